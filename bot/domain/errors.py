"""One exception root per area; callers catch the root they can handle."""


class LinliError(Exception):
    """Root of every error this package raises on purpose."""


class RegistryError(LinliError):
    """The committee registry is malformed or a committee/compound is unknown."""


class StoreUnavailable(LinliError):
    """A backing store (database, Redis) cannot be reached; the caller should retry later."""


class ChannelError(LinliError):
    """Root of channel errors (bad signature, bad body, …); see ``bot.channels.errors``."""


class InvalidMessage(LinliError, ValueError):
    """A message that cannot be stored as it is (an id or name longer than the limits of
    ``bot.domain.messages``); a channel answers it with 400."""
