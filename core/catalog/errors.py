"""Domain errors of the catalog area."""

from __future__ import annotations

from agorakit.errors import Conflict, Forbidden


class NotEligible(Forbidden):
    code = "not_eligible"
    title = "You cannot take this listing"


class WrongListingState(Conflict):
    code = "wrong_state"
    title = "The listing is not in a state that allows this"
