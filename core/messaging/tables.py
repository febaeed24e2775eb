"""Tables of the messaging area: conversations, their participants and messages."""

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar

from agorakit.db.table import Table


class Conversation(Table, tablename="core_conversation"):
    """A thread between members; ``key`` makes it unique per order, listing asker or pair."""

    key = Varchar(
        length=120,
        help_text="Unique: order:12, listing:5:member:7, members:3:9, or another module's subject.",
    )
    kind = Varchar(length=40, help_text="order | listing | direct | another module's subject prefix")
    subject = Varchar(
        length=120,
        null=True,
        default=None,
        index=True,
        help_text="What it is about; null for direct messages.",
    )
    last_message_id = Integer(default=0, help_text="The newest message (0 = none): the activity sort key.")
    last_message_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class ConversationParticipant(Table, tablename="core_conversation_participant"):
    """A member taking part in a conversation, with how far they have read."""

    conversation = ForeignKey(Conversation, index=True)
    member_id = Integer(index=True)
    last_read_message_id = Integer(default=0, help_text="Messages after this one are unread.")
    joined_at = Timestamptz()


class Message(Table, tablename="core_message"):
    """A member's message, or a system message about an event (an order transition ...)."""

    conversation = ForeignKey(Conversation, index=True)
    sender_id = Integer(
        null=True, default=None, help_text="The member who wrote it; null for system messages."
    )
    kind = Varchar(length=12, help_text="member | system")
    body = Text(default="")
    attachments = JSON(default=[], help_text="Ids of attachments (core_attachment).")
    flags = JSON(default=[], help_text="[{reason, match}] found by text screening.")
    flagged = Boolean(default=False, index=True, help_text="Has screening flags (for the operator list).")
    event_id = Integer(
        null=True, default=None, help_text="The domain event a system message is about (unique)."
    )
    created_at = Timestamptz()
    edited_at = Timestamptz(null=True, default=None, help_text="When its sender last edited the body.")
    deleted_at = Timestamptz(
        null=True, default=None, help_text="When its sender deleted it (the row stays; reads show it empty)."
    )
