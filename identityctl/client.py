"""A small synchronous wrapper around the OrgAdmin and Directory stubs for the operator CLI."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import TypeVar

import grpc

from identity_api.client_tls import IdentityTls
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

DEFAULT_TIMEOUT_S = 10.0

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


def operator_actor() -> pb.Actor:
    return pb.Actor(operator=True)


def admin_actor(email: str) -> pb.Actor:
    return pb.Actor(admin_email=email)


def new_context(actor: pb.Actor) -> pb.RequestContext:
    """Wrap ``actor`` in a RequestContext with a fresh request id, as every write carries."""
    return pb.RequestContext(actor=actor, request_id=str(uuid.uuid4()))


def open_channel(address: str, tls: IdentityTls | None) -> grpc.Channel:
    """A channel to the identity service: TLS, mutual with a client certificate, if set."""
    if tls is None:
        return grpc.insecure_channel(address)

    credentials = grpc.ssl_channel_credentials(*tls.credentials_pem())
    return grpc.secure_channel(address, credentials, options=tls.channel_options())


class IdentityClient:
    """OrgAdmin calls with the operator credential and a deadline.

    The credential is the operator token, a client certificate (mutual TLS), or both.

    Errors are raised as ``grpc.RpcError``; the CLI maps them to messages in one place.
    """

    def __init__(
        self,
        address: str,
        operator_token: str,
        timeout: float = DEFAULT_TIMEOUT_S,
        tls: IdentityTls | None = None,
    ) -> None:
        self.address = address
        self._channel = open_channel(address, tls)
        self._stub = pb_grpc.OrgAdminStub(self._channel)
        self._directory = pb_grpc.DirectoryStub(self._channel)
        self._events = pb_grpc.EventsStub(self._channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {operator_token}"),) if operator_token else ()
        )
        self._timeout = timeout

    def __enter__(self) -> IdentityClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(self, rpc: grpc.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req) -> _Resp:
        return rpc(request, timeout=self._timeout, metadata=self._metadata)

    def watch_events(
        self, org_id: str, after_seq: int, *, follow: bool
    ) -> grpc._CallIterator[pb.Event]:
        """The org's events after `after_seq`; with `follow`, endless (so no deadline).

        Iterate for events; cancel() hangs up.
        """
        request = pb.WatchEventsRequest(org_id=org_id, after_seq=after_seq, follow=follow)
        return self._events.WatchEvents(request, metadata=self._metadata)

    def create_org(
        self,
        org_id: str,
        name: str,
        admin_email: str,
        *,
        sso_configured: bool,
        admin_name: pb.PersonName | None = None,
    ) -> pb.Org:
        request = pb.CreateOrgRequest(
            context=new_context(operator_actor()),
            org_id=org_id,
            name=name,
            admin_email=admin_email,
            sso_configured=sso_configured,
            admin_name=admin_name,
        )
        return self._call(self._stub.CreateOrg, request)

    def get_org(self, org_id: str) -> pb.Org:
        return self._call(self._stub.GetOrg, pb.GetOrgRequest(org_id=org_id))

    def set_org_sso(self, org_id: str, *, configured: bool) -> pb.Org:
        request = pb.SetOrgSsoRequest(
            context=new_context(operator_actor()), org_id=org_id, sso_configured=configured
        )
        return self._call(self._stub.SetOrgSso, request)

    def set_direct_role(self, org_id: str, user_name: str, role: pb.Role.ValueType) -> pb.User:
        request = pb.SetDirectRoleRequest(
            context=new_context(operator_actor()), org_id=org_id, user_name=user_name, role=role
        )
        return self._call(self._stub.SetDirectRole, request).user

    def set_member_name(
        self, org_id: str, user_name: str, name: pb.PersonName, actor_email: str
    ) -> pb.User:
        request = pb.SetMemberNameRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            user_name=user_name,
            name=name,
        )
        return self._call(self._stub.SetMemberName, request).user

    def create_scim_key(
        self, org_id: str, name: str, actor_email: str, expires_in_seconds: int = 0
    ) -> pb.CreateScimKeyResponse:
        request = pb.CreateScimKeyRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            name=name,
            expires_in_seconds=expires_in_seconds,
        )
        return self._call(self._stub.CreateScimKey, request)

    def list_scim_keys(self, org_id: str, actor_email: str) -> list[pb.ScimKey]:
        request = pb.ListScimKeysRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id
        )
        return list(self._call(self._stub.ListScimKeys, request).keys)

    def revoke_scim_key(self, org_id: str, key_id: str, actor_email: str) -> pb.ScimKey:
        request = pb.RevokeScimKeyRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id, key_id=key_id
        )
        return self._call(self._stub.RevokeScimKey, request)

    def set_role_rule(
        self,
        org_id: str,
        *,
        group_id: str | None,
        group_name: str | None,
        role: pb.Role.ValueType,
        actor_email: str,
    ) -> pb.RoleRule:
        request = pb.SetRoleRuleRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id, role=role
        )
        if group_id is not None:
            request.group_id = group_id
        else:
            request.group_display_name = group_name or ""
        return self._call(self._stub.SetRoleRule, request)

    def list_role_rules(self, org_id: str, actor_email: str | None) -> pb.ListRoleRulesResponse:
        actor = admin_actor(actor_email) if actor_email else operator_actor()
        request = pb.ListRoleRulesRequest(context=new_context(actor), org_id=org_id)
        return self._call(self._stub.ListRoleRules, request)

    def delete_role_rule(self, org_id: str, rule_id: str, actor_email: str) -> None:
        request = pb.DeleteRoleRuleRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id, rule_id=rule_id
        )
        self._call(self._stub.DeleteRoleRule, request)

    def set_default_role(self, org_id: str, role: pb.Role.ValueType, actor_email: str) -> pb.Org:
        request = pb.SetDefaultRoleRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id, role=role
        )
        return self._call(self._stub.SetDefaultRole, request)

    def get_member(self, org_id: str, user_name: str) -> pb.OrgMember:
        request = pb.GetMemberRequest(org_id=org_id, user_name=user_name, include_groups=True)
        return self._call(self._directory.GetMember, request)

    def get_deprovisioning_brake(self, org_id: str) -> pb.DeprovisioningBrake:
        request = pb.GetDeprovisioningBrakeRequest(
            org_id=org_id, context=new_context(operator_actor())
        )
        return self._call(self._stub.GetDeprovisioningBrake, request)

    def set_deprovisioning_brake(
        self,
        org_id: str,
        actor_email: str,
        *,
        enabled: bool | None = None,
        floor: int | None = None,
        share_percent: float | None = None,
        window_seconds: int | None = None,
    ) -> pb.DeprovisioningBrake:
        """Change the settings given; the others keep their values."""
        request = pb.SetDeprovisioningBrakeRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            enabled=enabled,
            floor=floor,
            share_percent=share_percent,
            window_seconds=window_seconds,
        )
        return self._call(self._stub.SetDeprovisioningBrake, request)

    def release_deprovisioning_brake(
        self, org_id: str, actor_email: str, *, allow: int, off_for_seconds: int
    ) -> pb.DeprovisioningBrake:
        request = pb.ReleaseDeprovisioningBrakeRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            allow=allow,
            off_for_seconds=off_for_seconds,
        )
        return self._call(self._stub.ReleaseDeprovisioningBrake, request)

    def restore_member(
        self, org_id: str, user_name: str, actor_email: str
    ) -> pb.RestoreMemberResponse:
        request = pb.RestoreMemberRequest(
            context=new_context(admin_actor(actor_email)), org_id=org_id, user_name=user_name
        )
        return self._call(self._stub.RestoreMember, request)

    def list_deleted_members(
        self, org_id: str, actor_email: str, page_size: int, page_token: str
    ) -> pb.ListDeletedMembersResponse:
        request = pb.ListDeletedMembersRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            page_size=page_size,
            page_token=page_token,
        )
        return self._call(self._stub.ListDeletedMembers, request)

    def list_requests(
        self,
        org_id: str,
        actor_email: str,
        *,
        outcome: str = "",
        method: str = "",
        resource: str = "",
        idp: str = "",
        count: int = 0,
    ) -> pb.ListRequestsResponse:
        """The org's request log, newest first; each filter "" for any."""
        request = pb.ListRequestsRequest(
            context=new_context(admin_actor(actor_email)),
            org_id=org_id,
            outcome=outcome,
            method=method,
            resource=resource,
            idp=idp,
            count=count,
        )
        return self._call(self._stub.ListRequests, request)

    def create_console_link(self, org_id: str, admin_email: str) -> pb.CreateConsoleLinkResponse:
        """A one-time console sign-in link for an Org Admin, issued by the operator."""
        request = pb.CreateConsoleLinkRequest(
            context=new_context(operator_actor()), org_id=org_id, admin_email=admin_email
        )
        return self._call(self._stub.CreateConsoleLink, request)
