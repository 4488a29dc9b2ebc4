"""Socket.IO namespaces: thin adapters between the wire protocol and the desk."""
