"""ORM models returned by typed vivace.web handlers: written through the output schema the
model derives, so a field that schema leaves out (a password hash) never reaches the
client."""

from vivace.orm import CharField, IntegerField, Model, model_schema
from vivace.testing import TestClient
from vivace.web import App, Request, Route


class WebOutputMember(Model):
    name: str = CharField(max_length=100)
    password_hash: str = CharField(max_length=200, default="")
    age: int = IntegerField(default=0)


MemberOut = model_schema(WebOutputMember, "output", fields=["id", "name", "age"], name="MemberOut")


async def member() -> MemberOut:  # type: ignore[valid-type]
    return WebOutputMember(id=5, name="ada", password_hash="argon2$secret", age=36)


async def members() -> list[MemberOut]:  # type: ignore[valid-type]
    return [WebOutputMember(id=1, name="a"), WebOutputMember(id=2, name="b", password_hash="h")]


MemberAll = WebOutputMember.schema()


async def whole(request: Request) -> MemberAll:  # type: ignore[valid-type]
    return WebOutputMember(id=3, name="c", password_hash="h")


def test_models_are_written_through_their_output_schema() -> None:
    client = TestClient(
        App(routes=[Route("/m", member), Route("/ms", members), Route("/w", whole)])
    )
    assert client.get("/m").json() == {"id": 5, "name": "ada", "age": 36}
    assert client.get("/ms").json() == [
        {"id": 1, "name": "a", "age": 0},
        {"id": 2, "name": "b", "age": 0},
    ]
    assert "argon2" not in client.get("/m").text
    assert client.get("/w").json() == {"id": 3, "name": "c", "password_hash": "h", "age": 0}
