"""Tables of the reports area: a member's report on a conversation or a member in it."""

from piccolo.columns import JSON, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Report(Table, tablename="core_report"):
    """A member's report to the operators, with the conversation captured when it was filed."""

    reporter_id = Integer(index=True, help_text="The member who reported.")
    conversation_id = Integer(index=True, help_text="The conversation it was made from.")
    member_id = Integer(
        null=True, default=None, index=True, help_text="The member reported; null: the conversation."
    )
    reason = Varchar(length=20, help_text="abuse | spam | off_platform | minor | other")
    text = Text(help_text="The reporter's account.")
    status = Varchar(length=10, index=True, help_text="open | closed")
    evidence = JSON(default={}, help_text="The conversation as it was when the report was filed.")
    #: warn | suspend | dismiss, once decided
    action = Varchar(length=10, null=True, default=None)
    acted_on = Integer(null=True, default=None, help_text="The member warned or suspended.")
    decision_note = Text(
        null=True, default=None, help_text="The operator's note (not shown to the reporter)."
    )
    decided_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    due_at = Timestamptz(index=True, help_text="Operators' target: created_at + [reports] review_hours.")
    decided_at = Timestamptz(null=True, default=None)
