"""The OpenAPI 3.1 document of the sidecar's HTTP API, served at /openapi.json.

Written out rather than generated: the chat routes speak other vendors' wire formats,
which no model of ours describes, and the document is what schemathesis fuzzes.
"""

from __future__ import annotations

from typing import Any

from policy_engine._explain import DecisionQuery

_ROUTING_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Tenant-ID",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"},
    },
    {
        "name": "X-Data-Residency",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z]{2,16}$"},
    },
    {
        "name": "X-Privacy-Tags",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z0-9_,-]{0,200}$"},
    },
    {
        "name": "X-Task-Class",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "pattern": "^[a-z0-9_,-]{0,100}$"},
    },
]

_TEXT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "text"}, "text": {"type": "string"}},
}

_OPENAI_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}, {"type": "null"}]
        },
        "name": {"type": "string"},
        "tool_call_id": {"type": "string"},
    },
}

_OPENAI_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {"type": "array", "items": _OPENAI_MESSAGE, "minItems": 1},
        "stream": {"type": "boolean"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "user": {"type": "string"},
    },
}

_INPUT_TEXT = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"const": "input_text"}, "text": {"type": "string"}},
}

_RESPONSES_ITEM = {
    "anyOf": [
        {
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "type": {"const": "message"},
                "role": {"enum": ["user", "assistant", "system", "developer"]},
                "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": _INPUT_TEXT}]},
            },
        },
        {
            "type": "object",
            "required": ["type", "call_id", "name", "arguments"],
            "properties": {
                "type": {"const": "function_call"},
                "call_id": {"type": "string"},
                "name": {"type": "string"},
                "arguments": {"type": "string"},
            },
        },
        {
            "type": "object",
            "required": ["type", "call_id", "output"],
            "properties": {
                "type": {"const": "function_call_output"},
                "call_id": {"type": "string"},
                "output": {"type": "string"},
            },
        },
    ]
}

# The Responses API, stateless: the conversation travels in `input` (README, Responses).
_RESPONSES_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": _RESPONSES_ITEM, "minItems": 1},
            ]
        },
        "instructions": {"type": "string"},
        "stream": {"type": "boolean"},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "store": {"const": False},
        "text": {
            "type": "object",
            "properties": {
                "format": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": ["text", "json_object"]}},
                }
            },
        },
        "user": {"type": "string"},
    },
}

_ANTHROPIC_REQUEST = {
    "type": "object",
    "required": ["model", "messages", "max_tokens"],
    "properties": {
        "model": {"type": "string"},
        "max_tokens": {"type": "integer", "minimum": 1},
        "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"enum": ["user", "assistant"]},
                    "content": {
                        "anyOf": [{"type": "string"}, {"type": "array", "items": _TEXT_PART}]
                    },
                },
            },
        },
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
    },
}

_EMBEDDINGS_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        # Token arrays are refused (400): the sidecar cannot check tokens for PII.
        "input": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "maxItems": 2048,
                },
            ]
        },
        "dimensions": {"type": "integer", "minimum": 1},
        "encoding_format": {"enum": ["float", "base64"]},
        "user": {"type": "string"},
    },
}

_OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "param": {"type": ["string", "null"]},
            },
        }
    },
}

_ANTHROPIC_ERROR = {
    "type": "object",
    "required": ["type", "error"],
    "properties": {
        "type": {"const": "error"},
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        },
    },
}

# The statuses a chat route may answer; 5xx only for the documented fail-closed cases.
_CHAT_ERRORS = {
    "400": "Bad routing header, unknown tenant, malformed body or a provider's 400",
    "401": "Missing or invalid caller credentials",
    "403": "The policy allows no provider for the model, or the caller may not act for the tenant",
    "404": "Unknown model alias",
    "408": "The body did not arrive within server.body_timeout_s",
    "413": "Body over server.max_body_bytes",
    "503": "Policy unavailable (fail closed), every allowed provider failed, or audit unwritable",
}


def _chat_operation(summary: str, body: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "The answer (JSON, or SSE when stream is true)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        }
    }
    for status, description in _CHAT_ERRORS.items():
        responses[status] = {
            "description": description,
            "content": {"application/json": {"schema": error}},
        }
    return {
        "summary": summary,
        "parameters": _ROUTING_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": responses,
    }


def _embeddings_operation() -> dict[str, Any]:
    operation = _chat_operation("OpenAI Embeddings", _EMBEDDINGS_REQUEST, _OPENAI_ERROR)
    operation["responses"]["200"] = {
        "description": "The vectors, one per input (floats, or base64 float32)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    return operation


def _simple(summary: str, statuses: dict[str, str]) -> dict[str, Any]:
    return {
        "summary": summary,
        "responses": {
            status: {
                "description": description,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
            for status, description in statuses.items()
        },
    }


def openapi_document() -> dict[str, Any]:
    decision_schema = DecisionQuery.model_json_schema()
    decisions = _simple(
        "Dry-run decision: nothing is sent or recorded",
        {
            "200": "The decision, its reasons and the route",
            "400": "A field is missing or of the wrong type",
            "401": "Missing or invalid caller credentials",
            "413": "Body over server.max_body_bytes",
            "403": "The caller's token is not bound to the tenant",
            "503": "Policy unavailable",
        },
    )
    model = _simple(
        "One model: an alias, or a provider model a configured provider serves",
        {"200": "The model", "401": "No credentials", "404": "Not served; the aliases listed"},
    )
    model["parameters"] = [
        {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    decisions["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": decision_schema}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "policy-engine sidecar", "version": "0.1.0"},
        "paths": {
            "/v1/chat/completions": {
                "post": _chat_operation("OpenAI Chat Completions", _OPENAI_REQUEST, _OPENAI_ERROR)
            },
            "/v1/messages": {
                "post": _chat_operation("Anthropic Messages", _ANTHROPIC_REQUEST, _ANTHROPIC_ERROR)
            },
            "/v1/responses": {
                "post": _chat_operation("OpenAI Responses", _RESPONSES_REQUEST, _OPENAI_ERROR)
            },
            "/v1/embeddings": {
                "post": _embeddings_operation(),
            },
            "/v1/models": {
                "get": _simple("Logical model aliases", {"200": "Aliases", "401": "No credentials"})
            },
            "/v1/models/{model}": {"get": model},
            "/v1/decisions": {"post": decisions},
            "/healthz": {"get": _simple("Liveness", {"200": "Up"})},
            "/readyz": {
                "get": _simple("Readiness", {"200": "Ready", "503": "Policy or audit not ready"})
            },
        },
    }
