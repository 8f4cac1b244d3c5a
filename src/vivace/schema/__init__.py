"""vivace.schema: validation, serialization, JSON Schema and HTML forms.

Declare a schema as a class whose annotations are its fields; validate Python data or JSON
in strict mode (JSON's types) or lax mode (strings from queries, paths, headers, forms);
get every error at once; dump to JSON-ready data or bytes; describe it as JSON Schema;
render and read HTML forms::

    >>> from typing import Annotated
    >>> from vivace.schema import Field, Schema, ValidationError
    >>> class Item(Schema):
    ...     name: str
    ...     price: Annotated[float, Field(gt=0)]
    >>> Item.validate_json(b'{"name": "pen", "price": 1.5}')
    Item(name='pen', price=1.5)
    >>> try:
    ...     Item.validate({"price": -1})
    ... except ValidationError as exc:
    ...     [(e["loc"], e["code"]) for e in exc.errors()]
    [(('name',), 'missing'), (('price',), 'gt')]

A ``Schema`` is a ``msgspec.Struct``: valid input is decoded by msgspec with no Python code
per field; on invalid input our own engine collects every error. See docs/schema.md.
This package imports only vivace.http, the standard library and msgspec;
Jinja2 is imported by the forms functions alone (``pip install vivace[templates]``).
"""

from vivace.schema._dump import dump, dump_json
from vivace.schema._errors import ErrorDetail, SchemaError, ValidationError
from vivace.schema._fieldchecks import FieldCheck, field_checks
from vivace.schema._fields import NODEFAULT, UNSET, FieldInfo, UnsetType
from vivace.schema._fields import field as Field
from vivace.schema._formdata import form_errors, validate_form
from vivace.schema._forms import FormChoice, FormField, form_fields, form_loader, render_form
from vivace.schema._jsonschema import json_schema, json_schemas
from vivace.schema._jsonschema_in import from_json_schema
from vivace.schema._schema import (
    Partial,
    Schema,
    SchemaMeta,
    create_schema,
    fields_set,
    partial,
)
from vivace.schema._types import Email, HttpUrl, Secret, Upload
from vivace.schema._validator import Validator, validate, validate_json
from vivace.schema._validators import field_validator, schema_validator

__all__ = [
    "NODEFAULT",
    "UNSET",
    "Email",
    "ErrorDetail",
    "Field",
    "FieldCheck",
    "FieldInfo",
    "FormChoice",
    "FormField",
    "HttpUrl",
    "Partial",
    "Schema",
    "SchemaError",
    "SchemaMeta",
    "Secret",
    "UnsetType",
    "Upload",
    "ValidationError",
    "Validator",
    "create_schema",
    "dump",
    "dump_json",
    "field_checks",
    "field_validator",
    "fields_set",
    "form_errors",
    "form_fields",
    "form_loader",
    "from_json_schema",
    "json_schema",
    "json_schemas",
    "partial",
    "render_form",
    "schema_validator",
    "validate",
    "validate_form",
    "validate_json",
]
