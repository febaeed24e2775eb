"""HTTP routes of the accounts area: thin wrappers around :mod:`agorakit.accounts.service`."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agorakit.accounts import service
from agorakit.accounts.auth import issue_token, operator_only
from agorakit.accounts.schemas import (
    AuthToken,
    ChangePassword,
    Login,
    MemberOut,
    MemberPage,
    RegisterMember,
    Role,
    Status,
    SuspendMember,
    UpdateProfile,
)
from agorakit.http.openapi import problems
from agorakit.http.params import Id, MemberRequest
from agorakit.pagination import DEFAULT_LIMIT, check_limit
from agorakit.runtime import Runtime


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]
    opt = {"exclude_from_auth": True}

    @post(
        "/register", operation_id="register", summary="Create a member account", status_code=HTTP_201_CREATED
    )
    async def register(
        self, request: Request, runtime: NamedDependency[Runtime], data: JSONBody[RegisterMember]
    ) -> AuthToken:
        member = await service.register(runtime, data)
        return await issue_token(runtime, request.app.state.jwt_auth, member)

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
        member = await service.authenticate(
            runtime, email=data.email, password=data.password, client=_client(request)
        )
        return await issue_token(runtime, request.app.state.jwt_auth, member)


class MeController(Controller):
    path = "/me"
    tags = ["accounts"]

    @get("", operation_id="getMe", summary="The caller's own account")
    async def me(self, request: MemberRequest, runtime: NamedDependency[Runtime]) -> MemberOut:
        return await service.get_member(runtime, request.user.id)

    @patch("", operation_id="updateMe", summary="Change the caller's profile")
    async def update(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], data: JSONBody[UpdateProfile]
    ) -> MemberOut:
        return await service.update_profile(runtime, request.user.id, data)

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
    ) -> MemberPage:
        items, next_cursor = await service.list_members(
            runtime, cursor=cursor, limit=check_limit(limit), status=status, role=role, email=email
        )
        return MemberPage(items=items, next_cursor=next_cursor)

    @get("/{member_id:int}", operation_id="getMember", summary="One member (operators)")
    async def get_member(self, runtime: NamedDependency[Runtime], member_id: Id) -> MemberOut:
        return await service.get_member(runtime, member_id)

    @post(
        "/{member_id:int}/suspend",
        operation_id="suspendMember",
        summary="Suspend an account (its tokens stop working)",
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
        summary="Lift a suspension",
        status_code=HTTP_200_OK,
    )
    async def reactivate(
        self, request: MemberRequest, runtime: NamedDependency[Runtime], member_id: Id
    ) -> MemberOut:
        return await service.reactivate(runtime, operator_id=request.user.id, member_id=member_id)
