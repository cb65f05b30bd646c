"""`policy-engine decide`: explain the decision for a routing context, sending nothing."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from adapters import Feature
from policy_engine._config import load_config
from policy_engine._context import OPERATIONS
from policy_engine._errors import PolicyEngineError
from policy_engine._explain import DecisionQuery, explain
from policy_engine.decision import decider_from_settings, engine_from_settings


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser("decide", help="explain the policy decision for a routing context")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--residency")
    parser.add_argument("--tags", default="", help="comma list of privacy tags, e.g. pii,phi")
    parser.add_argument("--task-class", default="", help="as X-Task-Class, e.g. analysis")
    parser.add_argument("--model", default="default")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument(
        "--operation",
        choices=OPERATIONS,
        default="chat",
        help="what the request asks for: chat (Chat Completions, Messages), responses "
        "(the Responses API) or embeddings (plans an embedding alias's route)",
    )
    parser.add_argument(
        "--features",
        default="",
        help="comma list of request features, e.g. response_format=json_schema,seed "
        f"(one of: {', '.join(f.value for f in Feature)})",
    )
    parser.add_argument("--input-chars", type=int, default=0, help="the request's text size")
    parser.add_argument("--tools", action="store_true", help="the request uses tools")
    parser.add_argument("--images", type=int, default=0, help="images in the request")
    parser.add_argument("--inputs", type=int, default=1, help="embeddings: how many inputs")
    parser.set_defaults(func=run)


async def _explain(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_config(args.config)
    engine = engine_from_settings(settings)
    try:
        decider = decider_from_settings(settings, engine)
        query = DecisionQuery(
            tenant=args.tenant,
            residency=args.residency,
            privacy_tags=[t for t in args.tags.split(",") if t.strip()],
            task_classes=[c for c in args.task_class.split(",") if c.strip()],
            model=args.model,
            stream=args.stream,
            operation=args.operation,
            protocol="responses" if args.operation == "responses" else "openai",
            features=[f.strip() for f in args.features.split(",") if f.strip()],
            input_chars=args.input_chars,
            has_tools=args.tools,
            has_images=args.images,
            inputs=args.inputs,
        )
        return await explain(decider, settings, query, {})
    finally:
        await engine.close()


def run(args: argparse.Namespace) -> int:
    try:
        result = asyncio.run(_explain(args))
    except PolicyEngineError as error:
        print(f"policy-engine: {error.message}", file=sys.stderr)
        return 2
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in problem["loc"])
        print(f"policy-engine: {where}: {problem['msg']}", file=sys.stderr)
        return 2
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if result["decision"]["tenant_known"] else 1
