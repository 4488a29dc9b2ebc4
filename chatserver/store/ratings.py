"""The SQL of ratings and follow-ups (satisfaction.py): operations on one connection, which
`SqlStore` runs as one transaction each. Kept apart so the store's module stays readable."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from chatserver.models import Conversation
from chatserver.satisfaction import FollowUp, Rating
from chatserver.store.schema import conversations, followups, ratings

_WITH_FOLLOWUP = sa.select(ratings, followups).select_from(
    ratings.outerjoin(followups, followups.c.rating_id == ratings.c.id)
)
_FOLLOWUPS = sa.select(ratings, followups).select_from(
    followups.join(ratings, followups.c.rating_id == ratings.c.id)
)


def record(
    connection: sa.Connection, rating: Rating, followup: FollowUp | None, rated: Conversation
) -> tuple[Rating, FollowUp | None, bool]:
    """Store the rating, its follow-up and the conversation as rated, unless the
    conversation has a rating already: then that one (and False)."""
    existing = rating_of(connection, rating.conversation_id)
    if existing is not None:
        return (*existing, False)
    connection.execute(ratings.insert(), _rating_values(rating))
    if followup is not None:
        connection.execute(followups.insert(), {**_followup_values(followup), "id": followup.id})
    connection.execute(
        conversations.update()
        .where(conversations.c.id == rated.id)
        .values(status=str(rated.status), updated_at=rated.updated_at)
    )
    return rating, followup, True


def rating_of(
    connection: sa.Connection, conversation_id: str
) -> tuple[Rating, FollowUp | None] | None:
    row = connection.execute(
        _WITH_FOLLOWUP.where(ratings.c.conversation_id == conversation_id)
    ).first()
    if row is None:
        return None
    rating = _rating(row._mapping)
    return rating, _followup(row._mapping, rating)


def followup(connection: sa.Connection, followup_id: str) -> FollowUp | None:
    row = connection.execute(_FOLLOWUPS.where(followups.c.id == followup_id)).first()
    return _followup(row._mapping, _rating(row._mapping)) if row is not None else None


def unhandled(connection: sa.Connection) -> list[FollowUp]:
    """Follow-ups nobody has handled yet (open and missed), soonest deadline first."""
    rows = connection.execute(
        _FOLLOWUPS.where(followups.c.handled_at.is_(None)).order_by(
            followups.c.due_at, followups.c.id
        )
    ).all()
    return [_followup_of(row._mapping) for row in rows]


# Unhandled, not counted as missed, due by `now`: one range of `ix_followups_due`.
_DUE = _FOLLOWUPS.where(
    followups.c.handled_at.is_(None),
    followups.c.breached == sa.false(),
    followups.c.due_at <= sa.bindparam("now", type_=followups.c.due_at.type),
).order_by(followups.c.due_at, followups.c.id)


def due(connection: sa.Connection, now: datetime) -> list[FollowUp]:
    """The follow-ups the tick may have to count as missed at `now` (due at or before it,
    unhandled, not counted yet), soonest first; `satisfaction.newly_missed` decides."""
    rows = connection.execute(_DUE, {"now": now}).all()
    return [_followup_of(row._mapping) for row in rows]


def save_followup(connection: sa.Connection, followup: FollowUp) -> None:
    connection.execute(
        followups.update().where(followups.c.id == followup.id).values(_followup_values(followup))
    )


def ratings_between(connection: sa.Connection, since: datetime, until: datetime) -> list[Rating]:
    rows = connection.execute(
        sa.select(ratings)
        .where(ratings.c.created_at >= since, ratings.c.created_at < until)
        .order_by(ratings.c.created_at, ratings.c.id)
    ).all()
    return [_rating(row._mapping) for row in rows]


def followups_between(
    connection: sa.Connection, since: datetime, until: datetime
) -> list[FollowUp]:
    """Follow-ups opened (negative ratings given) in [since, until)."""
    rows = connection.execute(
        _FOLLOWUPS.where(ratings.c.created_at >= since, ratings.c.created_at < until).order_by(
            ratings.c.created_at, ratings.c.id
        )
    ).all()
    return [_followup_of(row._mapping) for row in rows]


def _rating_values(rating: Rating) -> dict[str, Any]:
    return {
        "id": rating.id,
        "conversation_id": rating.conversation_id,
        "score": rating.score,
        "comment": rating.comment,
        "language": rating.language,
        "team": rating.team,
        "agent_id": rating.agent_id,
        "tracking_number": rating.tracking_number,
        "created_at": rating.created_at,
    }


def _followup_values(followup: FollowUp) -> dict[str, Any]:
    return {
        "rating_id": followup.rating.id,
        "due_at": followup.due_at,
        "breached": followup.breached,
        "handled_at": followup.handled_at,
        "handled_by": followup.handled_by,
        "note": followup.note,
    }


def _rating(row: sa.RowMapping) -> Rating:
    return Rating(
        id=row[ratings.c.id],
        conversation_id=row[ratings.c.conversation_id],
        score=int(row[ratings.c.score]),
        comment=row[ratings.c.comment],
        language=row[ratings.c.language],
        team=row[ratings.c.team],
        agent_id=row[ratings.c.agent_id],
        tracking_number=row[ratings.c.tracking_number],
        created_at=row[ratings.c.created_at],
    )


def _followup(row: sa.RowMapping, rating: Rating) -> FollowUp | None:
    if row[followups.c.id] is None:
        return None
    return FollowUp(
        id=row[followups.c.id],
        rating=rating,
        due_at=row[followups.c.due_at],
        breached=bool(row[followups.c.breached]),
        handled_at=row[followups.c.handled_at],
        handled_by=row[followups.c.handled_by],
        note=row[followups.c.note],
    )


def _followup_of(row: sa.RowMapping) -> FollowUp:
    found = _followup(row, _rating(row))
    assert found is not None  # joined, not outer-joined
    return found
