"""Typed endpoints in vivace.web, FastAPI and Litestar, for ``bench/web.py --typed``.

The same three endpoints in each framework, written the way its documentation shows:

- ``GET /items/{item_id}?q=...&limit=...``: an int path parameter and two query
  parameters (a string and a bounded int), validated, echoed as JSON;
- ``POST /orders``: a JSON body of 20 fields (strings, ints, floats, bools, a list, a
  nested object, bounds), validated and echoed through the declared output type;
- ``GET /chain``: a chain of three async dependencies (settings -> database -> user,
  the last reading a header), the handler returning what they built.

Also ``GET /plaintext``, which ``bench/web.py`` uses to see that a server is up. No
``from __future__ import annotations`` here: each framework resolves the annotations of
handlers defined inside a function, which string annotations would hide.
"""

from typing import Annotated, Any

ORDER: dict[str, Any] = {
    "customer": "ada@example.org",
    "reference": "ORD-2026-0001",
    "currency": "EUR",
    "channel": "web",
    "note": "leave at the door",
    "quantity": 3,
    "priority": 2,
    "warehouse": 17,
    "attempts": 0,
    "postcode": 75011,
    "amount": 129.5,
    "discount": 10.0,
    "tax": 25.9,
    "weight": 2.75,
    "gift": False,
    "express": True,
    "paid": True,
    "tags": ["new", "promo"],
    "address": {"street": "1 rue de la Paix", "city": "Paris"},
    "coupon": None,
}
ORDER_BODY = __import__("json").dumps(ORDER)
GET_PATH = "/items/42?q=shoes&limit=20"


def _vivace() -> Any:
    from vivace.schema import Field, Schema
    from vivace.web import App, Depends, Header, PlainTextResponse, Query, Request, Route

    class Address(Schema):
        street: Annotated[str, Field(max_length=100)]
        city: Annotated[str, Field(max_length=50)]

    class Order(Schema):
        customer: Annotated[str, Field(max_length=100)]
        reference: Annotated[str, Field(min_length=1, max_length=40)]
        currency: Annotated[str, Field(min_length=3, max_length=3)]
        channel: str
        note: str
        quantity: Annotated[int, Field(ge=1)]
        priority: Annotated[int, Field(ge=0, le=5)]
        warehouse: int
        attempts: int
        postcode: int
        amount: Annotated[float, Field(ge=0)]
        discount: float
        tax: float
        weight: float
        gift: bool
        express: bool
        paid: bool
        tags: list[str]
        address: Address
        coupon: str | None = None

    async def plaintext(request: Request) -> PlainTextResponse:
        return PlainTextResponse(b"Hello, World!")

    async def item(
        item_id: int, q: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "limit": limit}

    async def order(body: Order) -> Order:
        return body

    async def settings() -> dict[str, str]:
        return {"dsn": "memory://"}

    async def database(conf: Annotated[dict[str, str], Depends(settings)]) -> str:
        return conf["dsn"]

    async def user(
        db: Annotated[str, Depends(database)], user_agent: Annotated[str, Header()] = ""
    ) -> dict[str, str]:
        return {"db": db, "agent": user_agent}

    async def chain(current: Annotated[dict[str, str], Depends(user)]) -> dict[str, Any]:
        return {"user": current}

    return App(
        routes=[
            Route("/plaintext", plaintext),
            Route("/items/{item_id}", item),
            Route("/orders", order, methods=["POST"]),
            Route("/chain", chain),
        ]
    )


def _fastapi() -> Any:
    from fastapi import Depends, FastAPI, Header, Query
    from fastapi.responses import PlainTextResponse
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        street: Annotated[str, Field(max_length=100)]
        city: Annotated[str, Field(max_length=50)]

    class Order(BaseModel):
        customer: Annotated[str, Field(max_length=100)]
        reference: Annotated[str, Field(min_length=1, max_length=40)]
        currency: Annotated[str, Field(min_length=3, max_length=3)]
        channel: str
        note: str
        quantity: Annotated[int, Field(ge=1)]
        priority: Annotated[int, Field(ge=0, le=5)]
        warehouse: int
        attempts: int
        postcode: int
        amount: Annotated[float, Field(ge=0)]
        discount: float
        tax: float
        weight: float
        gift: bool
        express: bool
        paid: bool
        tags: list[str]
        address: Address
        coupon: str | None = None

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/plaintext", response_class=PlainTextResponse)
    async def plaintext() -> str:
        return "Hello, World!"

    @app.get("/items/{item_id}")
    async def item(
        item_id: int, q: str | None = None, limit: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "limit": limit}

    @app.post("/orders")
    async def order(body: Order) -> Order:
        return body

    async def settings() -> dict[str, str]:
        return {"dsn": "memory://"}

    async def database(conf: Annotated[dict[str, str], Depends(settings)]) -> str:
        return conf["dsn"]

    async def user(
        db: Annotated[str, Depends(database)], user_agent: Annotated[str, Header()] = ""
    ) -> dict[str, str]:
        return {"db": db, "agent": user_agent}

    @app.get("/chain")
    async def chain(current: Annotated[dict[str, str], Depends(user)]) -> dict[str, Any]:
        return {"user": current}

    return app


def _litestar() -> Any:
    import msgspec
    from litestar import Litestar, MediaType, get, post
    from litestar.di import Provide
    from litestar.params import Parameter

    class Address(msgspec.Struct):
        street: Annotated[str, msgspec.Meta(max_length=100)]
        city: Annotated[str, msgspec.Meta(max_length=50)]

    class Order(msgspec.Struct):
        customer: Annotated[str, msgspec.Meta(max_length=100)]
        reference: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
        currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]
        channel: str
        note: str
        quantity: Annotated[int, msgspec.Meta(ge=1)]
        priority: Annotated[int, msgspec.Meta(ge=0, le=5)]
        warehouse: int
        attempts: int
        postcode: int
        amount: Annotated[float, msgspec.Meta(ge=0)]
        discount: float
        tax: float
        weight: float
        gift: bool
        express: bool
        paid: bool
        tags: list[str]
        address: Address
        coupon: str | None = None

    @get("/plaintext", media_type=MediaType.TEXT)
    async def plaintext() -> str:
        return "Hello, World!"

    @get("/items/{item_id:int}")
    async def item(
        item_id: int, q: str | None = None, limit: Annotated[int, Parameter(ge=1, le=100)] = 10
    ) -> dict[str, Any]:
        return {"item_id": item_id, "q": q, "limit": limit}

    @post("/orders", status_code=200)
    async def order(data: Order) -> Order:
        return data

    async def settings() -> dict[str, str]:
        return {"dsn": "memory://"}

    async def database(conf: dict[str, str]) -> str:
        return conf["dsn"]

    async def user(
        db: str, user_agent: Annotated[str, Parameter(header="user-agent")] = ""
    ) -> dict[str, str]:
        return {"db": db, "agent": user_agent}

    @get(
        "/chain",
        dependencies={
            "conf": Provide(settings),
            "db": Provide(database),
            "current": Provide(user),
        },
    )
    async def chain(current: dict[str, str]) -> dict[str, Any]:
        return {"user": current}

    return Litestar(route_handlers=[plaintext, item, order, chain], openapi_config=None)


def __getattr__(name: str) -> Any:
    # Build only the app asked for: each server process imports one framework.
    factories = {"vivace_app": _vivace, "fastapi_app": _fastapi, "litestar_app": _litestar}
    if name in factories:
        app = factories[name]()
        globals()[name] = app
        return app
    raise AttributeError(name)
