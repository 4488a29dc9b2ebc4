"""The human side of the desk, in rooms by role, each over the one below it and never the
other way round:

    ledger.py      units of change (all or nothing) over the desk's memory, lookups
    telling.py     system lines, messages as agents read them, briefings, places in line
    routed.py      the router's events applied to conversations
    clocks.py      SLA clocks: start, stop, tick, warnings and breaches
    assignment.py  hand off, accept, assign, close, abandon, leave a message
    transfer.py    an agent passes their chat to a colleague or back to a queue
    replies.py     agents' replies and notes, customers' messages to the agent
    presence.py    agents online/away/offline, consoles, customers' sockets, grace, restore
    views.py       consoles' queue lists (and what each was last sent)

The memory itself (router, accounts, clocks, previews, presence) is behind the desk-state
port, `chatserver/desk_state.py`. `chatserver/dispatch.py` (`Dispatcher`) builds them and is what the transport and the desk
call; its tick runs the rooms' parts in order.
"""
