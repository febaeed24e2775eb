"""HTTP routes of the accounts area: thin wrappers around :mod:`agorakit.accounts.service`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from agorakit.accounts import credentials, members, moderation, service
from agorakit.accounts.auth import issue_token, operator_only, owner_only
from agorakit.accounts.schemas import (
    Accepted,
    AcceptTerms,
    AuthToken,
    ChangePassword,
    ChangeRole,
    ConfirmToken,
    Login,
    MemberFlagOut,
    MemberOut,
    MemberPage,
    MemberReason,
    MemberWarningOut,
    OperatorMemberOut,
    RegisterMember,
    RequestEmail,
    ResetPassword,
    Role,
    Status,
    SuspendMember,
    TermsOut,
    UpdateProfile,
)
from agorakit.http.client import client_address
from agorakit.http.openapi import problems
from agorakit.http.params import Id, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT, check_limit
from agorakit.runtime import Runtime


def _client(request: Request, runtime: Runtime) -> str:
    return client_address(request.scope, runtime.settings.http.trusted_proxies)


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]
    opt = {"exclude_from_auth": True}

    @post(
        "/register",
        operation_id="register",
        responses=problems(429),
        summary="Create a member account (the next step arrives by email)",
        status_code=HTTP_202_ACCEPTED,
    )
    async def register(
        self, request: Request, runtime: NamedDependency[Runtime], data: JSONBody[RegisterMember]
    ) -> Accepted:
        return await credentials.sign_up(runtime, data, client=_client(request, runtime))

    @post(
        "/login",
        operation_id="login",
        responses=problems(401, 403, 429),
        summary="Log in and get a bearer token",
        status_code=HTTP_200_OK,
    )
    async def login(
        self, request: Request, runtime: NamedDependency[Runtime], data: JSONBody[Login]
    ) -> AuthToken:
        member = await credentials.authenticate(
            runtime, email=data.email, password=data.password, client=_client(request, runtime)
        )
        return await issue_token(runtime, request.app.state.jwt_auth, member)

    @post(
        "/email-verification",
        operation_id="requestEmailVerification",
        responses=problems(429),
        summary="Email a new verification link",
        status_code=HTTP_202_ACCEPTED,
    )
    async def request_verification(
        self, request: Request, runtime: NamedDependency[Runtime], data: JSONBody[RequestEmail]
    ) -> Accepted:
        return await credentials.request_verification(
            runtime, email=data.email, client=_client(request, runtime)
        )

    @post(
        "/email-verification/confirm",
        operation_id="confirmEmailVerification",
        summary="Verify the email address with the emailed token",
        status_code=HTTP_200_OK,
    )
    async def confirm_verification(
        self, runtime: NamedDependency[Runtime], data: JSONBody[ConfirmToken]
    ) -> Accepted:
        return await credentials.confirm_verification(runtime, token=data.token)

    @post(
        "/password-reset",
        operation_id="requestPasswordReset",
        responses=problems(429),
        summary="Email a password reset link",
        status_code=HTTP_202_ACCEPTED,
    )
    async def request_password_reset(
        self, request: Request, runtime: NamedDependency[Runtime], data: JSONBody[RequestEmail]
    ) -> Accepted:
        return await credentials.request_password_reset(
            runtime, email=data.email, client=_client(request, runtime)
        )

    @post(
        "/password-reset/confirm",
        operation_id="confirmPasswordReset",
        summary="Set a new password with the emailed token (every session ends)",
        status_code=HTTP_200_OK,
    )
    async def confirm_password_reset(
        self, runtime: NamedDependency[Runtime], data: JSONBody[ResetPassword]
    ) -> Accepted:
        return await credentials.confirm_password_reset(
            runtime, token=data.token, new_password=data.new_password
        )


class TermsController(Controller):
    path = "/terms"
    tags = ["accounts"]
    opt = {"exclude_from_auth": True}

    @get("", operation_id="getTerms", summary="The site's terms: their URL and current version")
    async def terms(self, runtime: NamedDependency[Runtime]) -> TermsOut:
        site = runtime.settings.site
        return TermsOut(url=site.terms_url or None, version=site.terms_version or None)


class MeController(Controller):
    path = "/me"
    tags = ["accounts"]

    @get("", operation_id="getMe", summary="The caller's own account")
    async def me(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> MemberOut:
        return await service.get_member(runtime, request.user.id)

    @patch(
        "",
        operation_id="updateMe",
        responses=problems(409),
        summary="Change the caller's profile (a plugin may refuse a change: 409)",
    )
    async def update(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[UpdateProfile]
    ) -> MemberOut:
        return await service.update_profile(runtime, request.user.id, data)

    @post(
        "/terms",
        operation_id="acceptTerms",
        responses=problems(409),
        summary="Accept the site's current terms (GET /terms)",
        status_code=HTTP_200_OK,
    )
    async def accept_terms(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[AcceptTerms]
    ) -> MemberOut:
        return await service.accept_terms(runtime, request.user.id, data.version)

    @post(
        "/password",
        operation_id="changePassword",
        summary="Change the password (older tokens stop working; a new one is returned)",
        status_code=HTTP_200_OK,
    )
    async def change_password(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[ChangePassword]
    ) -> AuthToken:
        member = await service.change_password(
            runtime, request.user.id, current_password=data.current_password, new_password=data.new_password
        )
        return await issue_token(runtime, request.app.state.jwt_auth, member)


class OperatorMembersController(Controller):
    path = "/operator/members"
    tags = ["operator"]
    guards = [operator_only]

    @get("", operation_id="listMembers", summary="List members (operators)")
    async def list_members(
        self,
        runtime: NamedDependency[Runtime],
        cursor: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = DEFAULT_LIMIT,
        status: FromQuery[Status | None] = None,
        role: FromQuery[Role | None] = None,
        email: Annotated[str | None, QueryParameter(description="exact email, any case")] = None,
        q: Annotated[
            str | None, QueryParameter(description="part of the display name or email, any case (1-100)")
        ] = None,
        flagged: Annotated[
            bool | None, QueryParameter(description="true: only flagged members; false: only the others")
        ] = None,
    ) -> MemberPage:
        items, next_cursor = await members.list_members(
            runtime,
            cursor=cursor,
            limit=check_limit(limit),
            status=status,
            role=role,
            email=email,
            q=q,
            flagged=flagged,
        )
        return MemberPage(items=items, next_cursor=next_cursor)

    @get(
        "/{member_id:int}",
        operation_id="getMember",
        summary="One member, with its flag and warnings (operators)",
    )
    async def get_member(self, runtime: NamedDependency[Runtime], member_id: Id) -> OperatorMemberOut:
        return await moderation.operator_member(runtime, member_id)

    @post(
        "/{member_id:int}/warnings",
        operation_id="warnMember",
        summary="Warn a member: recorded, and the member is told the reason",
        status_code=HTTP_201_CREATED,
    )
    async def warn(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        data: JSONBody[MemberReason],
    ) -> MemberWarningOut:
        return await moderation.warn_member(runtime, member_id, request.user.id, data.reason)

    @post(
        "/{member_id:int}/flag",
        operation_id="flagMember",
        summary="Mark a member for operators' attention (the member is not told)",
        status_code=HTTP_200_OK,
    )
    async def flag(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        data: JSONBody[MemberReason],
    ) -> MemberFlagOut:
        return await moderation.flag_member(runtime, member_id, request.user.id, data.reason)

    @delete(
        "/{member_id:int}/flag",
        operation_id="unflagMember",
        summary="Remove a member's flag",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def unflag(self, request: MemberRequest, runtime: NamedDependency[Runtime], member_id: Id) -> None:
        await moderation.unflag_member(runtime, member_id, request.user.id)

    @patch(
        "/{member_id:int}",
        operation_id="updateMember",
        summary="Change a member's profile, over plugins' vetoes (operators: owner only)",
    )
    async def update_member(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        data: JSONBody[UpdateProfile],
    ) -> MemberOut:
        return await service.operator_update_profile(
            runtime, operator_id=request.user.id, member_id=member_id, cmd=data
        )

    @post(
        "/{member_id:int}/suspend",
        operation_id="suspendMember",
        summary="Suspend an account (its tokens stop working; operators: owner only)",
        status_code=HTTP_200_OK,
    )
    async def suspend(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        data: JSONBody[SuspendMember],
    ) -> MemberOut:
        return await service.suspend(
            runtime, operator_id=request.user.id, member_id=member_id, reason=data.reason
        )

    @post(
        "/{member_id:int}/reactivate",
        operation_id="reactivateMember",
        summary="Lift a suspension (operators: owner only)",
        status_code=HTTP_200_OK,
    )
    async def reactivate(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], member_id: Id
    ) -> MemberOut:
        return await service.reactivate(runtime, operator_id=request.user.id, member_id=member_id)

    @post(
        "/{member_id:int}/role",
        operation_id="setMemberRole",
        summary="Make a member a member, operator or owner (owner only)",
        status_code=HTTP_200_OK,
        guards=[owner_only],
    )
    async def set_role(
        self,
        request: MemberRequest,
        runtime: NamedDependency[Runtime],
        member_id: Id,
        data: JSONBody[ChangeRole],
    ) -> MemberOut:
        return await service.set_role(runtime, owner_id=request.user.id, member_id=member_id, role=data.role)
