"""An example API using every typed-handler feature the OpenAPI generator describes; the
generator's tests validate its document and schemathesis runs against it."""

import datetime
import enum
from typing import Annotated, Any

from vivace.schema import Field, Schema
from vivace.web import (
    APIKeyHeader,
    App,
    Body,
    Cookie,
    Depends,
    Form,
    Header,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPEndpoint,
    HTTPException,
    Mount,
    OAuth2PasswordBearer,
    OpenIdConnect,
    Query,
    Request,
    Route,
    UploadFile,
)
from vivace.web.openapi import OpenAPI


class Kind(enum.Enum):
    CAT = "cat"
    DOG = "dog"


class PetIn(Schema):
    """A pet as a client sends it."""

    name: Annotated[str, Field(min_length=1, max_length=50, examples=["Rex"])]
    kind: Kind = Kind.DOG
    tags: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list)


class Pet(Schema):
    """A pet as the API writes it."""

    id: int = Field(default=0, read_only=True)
    name: str
    kind: Kind = Kind.DOG
    born: datetime.date | None = None
    secret_note: str = Field(default="", write_only=True)


class Filters(Schema):
    kind: Kind | None = None
    page: Annotated[int, Field(ge=1, le=1000)] = 1


PETS: dict[int, Pet] = {1: Pet(id=1, name="Rex")}

api_key = APIKeyHeader("x-api-key", description="A key from your account page")
bearer = HTTPBearer(bearer_format="JWT")
basic = HTTPBasic(realm="pets")
oauth2 = OAuth2PasswordBearer(
    "/token", scopes={"pets:write": "Change pets"}, required_scopes=["pets:write"]
)
oidc = OpenIdConnect("https://id.example.org/.well-known/openid-configuration", auto_error=False)


def check(credential: str | None) -> None:
    # A real API looks the credential up; this one knows one.
    if credential != "letmein":
        raise HTTPException(401, "bad credentials", headers={"www-authenticate": "Bearer"})


async def paging(
    offset: Annotated[int, Query(ge=0, le=10_000, description="Items to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> tuple[int, int]:
    return offset, limit


async def list_pets(
    page: Annotated[tuple[int, int], Depends(paging)],
    filters: Annotated[Filters, Query()],
    q: Annotated[str | None, Query(max_length=50)] = None,
) -> list[Pet]:
    """List pets.

    Filtered by kind, a page at a time.
    """
    offset, limit = page
    pets = [p for p in PETS.values() if filters.kind is None or p.kind == filters.kind]
    return pets[offset : offset + limit]


async def create_pet(
    pet: PetIn,
    key: Annotated[str, Depends(api_key)],
    request_id: Annotated[str | None, Header()] = None,
) -> Pet:
    """Create a pet."""
    check(key)
    new = Pet(id=len(PETS) + 1, name=pet.name, kind=pet.kind)
    return new


async def get_pet(pet_id: Annotated[int, Field(ge=1, le=2**31)]) -> Pet:
    """Get one pet."""
    pet = PETS.get(pet_id)
    if pet is None:
        raise HTTPException(404, "no such pet")
    return pet


class PetPhotos(HTTPEndpoint):
    async def get(self, pet_id: Annotated[int, Field(ge=1, le=2**31)]) -> list[str]:
        """Photo names of a pet."""
        return []

    async def post(
        self,
        pet_id: Annotated[int, Field(ge=1, le=2**31)],
        photo: UploadFile,
        caption: Annotated[str, Form(max_length=200)] = "",
    ) -> dict[str, Any]:
        """Upload a photo."""
        return {"caption": caption, "size": len(await photo.read())}


async def login(
    username: Annotated[str, Form(min_length=1, max_length=50)],
    password: Annotated[str, Form(min_length=1, max_length=200)],
) -> dict[str, str]:
    """Get a token (password flow)."""
    return {"access_token": "t", "token_type": "bearer"}


async def me(
    token: Annotated[str, Depends(bearer)], session: Annotated[str | None, Cookie()] = None
) -> dict[str, str]:
    """Who the token belongs to."""
    check(token)
    return {"token": token}


async def admin(credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> dict[str, str]:
    check(credentials.password)
    return {"user": credentials.username}


async def rename(
    pet_id: Annotated[int, Field(ge=1, le=2**31)],
    name: Annotated[str, Body(min_length=1, max_length=50)],
    token: Annotated[str, Depends(oauth2)],
    note: Annotated[str, Body(max_length=100)] = "",
) -> Pet:
    """Rename a pet (an embedded body)."""
    check(token)
    return Pet(id=pet_id, name=name)


async def profile(token: Annotated[str | None, Depends(oidc)]) -> dict[str, bool]:
    if token is not None:
        check(token)
    return {"signed_in": token is not None}


async def old(request: Request) -> dict[str, str]:
    """An untyped handler: documented from its path and docstring."""
    return {"old": "yes"}


async def pet_event(pet: Pet) -> None:
    """A pet changed (sent to subscribers)."""


async def subscribe(url: Annotated[str, Body(embed=True, max_length=2000)]) -> dict[str, str]:
    """Subscribe to pet events."""
    return {"url": url}


routes = [
    Route("/pets", list_pets, tags=["pets"]),
    Route(
        "/pets",
        create_pet,
        methods=["POST"],
        status_code=201,
        tags=["pets"],
        responses={
            201: {
                "examples": {
                    "rex": {
                        "summary": "A dog",
                        "value": {"id": 2, "name": "Rex", "kind": "dog", "born": None},
                    }
                }
            },
            409: {"description": "The pet exists", "model": Pet},
        },
    ),
    Route(
        "/pets/{pet_id:int}",
        get_pet,
        tags=["pets"],
        responses={
            404: {"description": "No such pet"},
            200: {
                "links": {
                    "photos": {
                        "operationId": "PetPhotos_get",
                        "parameters": {"pet_id": "$request.path.pet_id"},
                    }
                }
            },
        },
    ),
    Route("/pets/{pet_id:int}/photos", PetPhotos, tags=["photos"]),
    Route("/pets/{pet_id:int}/name", rename, methods=["PUT"], tags=["pets"]),
    Route("/token", login, methods=["POST"], responses={422: None}),
    Route("/me", me),
    Route("/admin", admin, include_in_schema=True, deprecated=True),
    Route("/profile", profile, summary="Profile", description="Signed in or not."),
    Route("/old", old, operation_id="legacyOld"),
    Route(
        "/subscriptions",
        subscribe,
        methods=["POST"],
        callbacks={"petEvent": {"{$request.body#/url}": [Route("/", pet_event, methods=["POST"])]}},
    ),
    Mount("/v2", routes=[Route("/pets", list_pets, name="list_pets_v2")]),
]


def make_app(**options: Any) -> App:
    openapi = OpenAPI(
        title="Pets",
        version="1.0.0",
        description="An example API.",
        info={"license": {"name": "MIT", "identifier": "MIT"}},
        servers=[{"url": "http://127.0.0.1"}],
        tags=[{"name": "pets", "description": "Pets"}, {"name": "photos", "description": "Photos"}],
        webhooks=[Route("/pet-event", pet_event, methods=["POST"], name="petEvent")],
        **options,
    )
    return App(routes=list(routes), openapi=openapi)


app = make_app()
