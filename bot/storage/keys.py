"""Every key of the shared state store, in one place (Redis or in-process alike)."""

PREFIX = "linli:"


def dedup(message_key: str) -> str:
    return f"{PREFIX}dedup:{message_key}"


def conversation(conversation_key: str) -> str:
    return f"{PREFIX}conv:{conversation_key}"


def lock(name: str) -> str:
    return f"{PREFIX}lock:{name}"


def lock_note(lock_name: str) -> str:
    """What the last holder of lock ``lock_name`` noted for the next (``Lease.note``)."""
    return f"{lock_name}#note"


def throttle(name: str) -> str:
    return f"{PREFIX}throttle:{name}"


def token(name: str) -> str:
    return f"{PREFIX}token:{name}"


def channel(name: str) -> str:
    return f"{PREFIX}events:{name}"


def fence() -> str:
    """The fencing-token sequence shared by message claims and locks."""
    return f"{PREFIX}fence"
