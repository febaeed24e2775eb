"""The core's own plugin for integrations: its table, its routes, its events, the core's
scopes, and the callers integration tokens name."""

from __future__ import annotations

from agorakit import hookimpl
from agorakit.integrations.controllers import (
    EventFeedController,
    OperatorIntegrationScopeController,
    OperatorIntegrationTokenController,
)
from agorakit.integrations.events import EVENTS
from agorakit.integrations.piccolo_app import APP_CONFIG
from agorakit.integrations.service import CORE_SCOPES, caller_for_token


@hookimpl
def agorakit_tables():
    return [APP_CONFIG]


@hookimpl
def agorakit_routes():
    return [OperatorIntegrationTokenController, OperatorIntegrationScopeController, EventFeedController]


@hookimpl
def agorakit_event_types():
    return EVENTS


@hookimpl
def agorakit_integration_scopes():
    return CORE_SCOPES


@hookimpl
async def agorakit_api_token_caller(token, runtime):
    return await caller_for_token(runtime, token)
