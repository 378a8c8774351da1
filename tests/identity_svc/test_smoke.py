import uuid

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc


async def test_smoke(operator_channel, service_channel):
    admin = pb_grpc.OrgAdminStub(operator_channel)
    prov = pb_grpc.ProvisioningStub(service_channel)
    ctx = pb.RequestContext(actor=pb.Actor(operator=True), request_id="r1")
    org = f"acme-{uuid.uuid4().hex[:6]}"
    await admin.CreateOrg(pb.CreateOrgRequest(context=ctx, org_id=org, name="Acme", admin_email="a@acme.test"))
    users = await prov.ListUsers(pb.ListUsersRequest(org_id=org))
    assert users.total_results == 1
