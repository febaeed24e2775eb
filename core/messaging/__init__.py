"""Messaging: conversations between members about an order, a listing, or nothing at all.

One conversation per order, one per (listing, asking member), one per pair of members
for direct messages, plus conversations other modules open by subject
(:func:`agorakit.messaging.service.ensure_conversation`).  Messages are screened for
off-platform contact details; order transitions appear as system messages.
"""
