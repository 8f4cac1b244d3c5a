"""Time to generate the OpenAPI document of a 500-route app: vivace.web against FastAPI.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/openapi_gen.py [--routes 500] [--rounds 7]

Both apps have the same routes: a GET with a path parameter, two query parameters and a
schema output, a POST with a JSON body and a schema output, a PUT with a header and an
embedded body, a DELETE with a dependency; repeated over ``routes / 4`` resources, each
resource with its own two classes (so the document holds ``routes / 2`` schemas). Each
round builds the document from scratch (vivace: a new ``OpenAPI`` over the app; FastAPI:
``app.openapi_schema = None`` then ``app.openapi()``), rounds interleaved; medians of CPU
time (``time.process_time``) are printed with the ratio.
"""

import argparse
import gc
import statistics
import time
from typing import Annotated, Any


def vivace_app(resources: int) -> Any:
    from vivace.schema import Field, Schema, create_schema
    from vivace.web import App, Body, Depends, Header, Query, Route
    from vivace.web.openapi import OpenAPI

    async def current_user(x_user: Annotated[str, Header()] = "anon") -> str:
        return x_user

    routes = []
    for n in range(resources):
        item_in = create_schema(
            f"Item{n}In",
            {"name": (str, Field(max_length=50)), "price": (float, Field(gt=0)), "tags": list[str]},
            module=__name__,
        )
        item = create_schema(
            f"Item{n}",
            {"id": int, "name": str, "price": float, "tags": list[str]},
            module=__name__,
        )

        def make(n: int, item_in: type[Schema], item: type[Schema]) -> list[Route]:
            async def get(
                item_id: int, q: str | None = None, limit: Annotated[int, Query(le=100)] = 10
            ) -> item:  # type: ignore[valid-type]
                """Get an item."""

            async def post(body: item_in) -> item:  # type: ignore[valid-type]
                """Create an item."""

            async def put(
                item_id: int,
                name: Annotated[str, Body(embed=True)],
                x_request_id: Annotated[str | None, Header()] = None,
            ) -> item:  # type: ignore[valid-type]
                """Rename an item."""

            async def delete(item_id: int, user: Annotated[str, Depends(current_user)]) -> None:
                """Delete an item."""

            return [
                Route(f"/r{n}/items/{{item_id}}", get, name=f"get_{n}"),
                Route(f"/r{n}/items", post, methods=["POST"], name=f"post_{n}"),
                Route(f"/r{n}/items/{{item_id}}", put, methods=["PUT"], name=f"put_{n}"),
                Route(
                    f"/r{n}/items/{{item_id}}",
                    delete,
                    methods=["DELETE"],
                    name=f"delete_{n}",
                    status_code=204,
                ),
            ]

        routes += make(n, item_in, item)
    return App(routes=routes, openapi=OpenAPI(title="Bench", version="1"))


def fastapi_app(resources: int) -> Any:
    from fastapi import Body, Depends, FastAPI, Header, Query
    from pydantic import BaseModel, Field, create_model

    app = FastAPI(title="Bench", version="1")

    async def current_user(x_user: Annotated[str, Header()] = "anon") -> str:
        return x_user

    for n in range(resources):
        item_in: Any = create_model(
            f"Item{n}In",
            name=(Annotated[str, Field(max_length=50)], ...),
            price=(Annotated[float, Field(gt=0)], ...),
            tags=(list[str], ...),
        )
        item: Any = create_model(
            f"Item{n}", id=(int, ...), name=(str, ...), price=(float, ...), tags=(list[str], ...)
        )
        assert issubclass(item, BaseModel)

        def make(n: int, item_in: Any, item: Any) -> None:
            @app.get(f"/r{n}/items/{{item_id}}", name=f"get_{n}", response_model=item)
            async def get(
                item_id: int, q: str | None = None, limit: Annotated[int, Query(le=100)] = 10
            ) -> Any:
                """Get an item."""

            @app.post(f"/r{n}/items", name=f"post_{n}", response_model=item)
            async def post(body: item_in) -> Any:
                """Create an item."""

            @app.put(f"/r{n}/items/{{item_id}}", name=f"put_{n}", response_model=item)
            async def put(
                item_id: int,
                name: Annotated[str, Body(embed=True)],
                x_request_id: Annotated[str | None, Header()] = None,
            ) -> Any:
                """Rename an item."""

            @app.delete(f"/r{n}/items/{{item_id}}", name=f"delete_{n}", status_code=204)
            async def delete(item_id: int, user: Annotated[str, Depends(current_user)]) -> None:
                """Delete an item."""

        make(n, item_in, item)
    return app


def _time(build: Any) -> float:
    gc.collect()
    start = time.process_time()
    build()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    resources = args.routes // 4
    vivace = vivace_app(resources)
    fastapi = fastapi_app(resources)
    from vivace.web.openapi import OpenAPI

    def build_vivace() -> None:
        OpenAPI(title="Bench", version="1").document(vivace)

    def build_fastapi() -> None:
        fastapi.openapi_schema = None
        fastapi.openapi()

    build_vivace()  # both once first: imports and lazy compilation out of the timing
    build_fastapi()
    times: dict[str, list[float]] = {"vivace.web": [], "FastAPI": []}
    for _ in range(args.rounds):
        times["vivace.web"].append(_time(build_vivace))
        times["FastAPI"].append(_time(build_fastapi))
    doc = OpenAPI(title="Bench", version="1").document(vivace)
    print(f"{len(doc['paths'])} paths, {len(doc['components']['schemas'])} schemas (vivace)")
    print("\n| generator | median CPU ms | min | max |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        print(
            f"| {name} | {statistics.median(values) * 1000:.1f} | "
            f"{min(values) * 1000:.1f} | {max(values) * 1000:.1f} |"
        )
    ratio = statistics.median(times["FastAPI"]) / statistics.median(times["vivace.web"])
    print(f"\nFastAPI / vivace.web: {ratio:.2f}x")


if __name__ == "__main__":
    main()
