"""What building one provider call costs per codec, SigV4 signing included for Bedrock.

Run: `.venv/bin/python bench/cloud_codec_bench.py [--iterations 5000]`. No network: the
Bedrock credentials are the fakes' synthetic key in the environment, the Vertex token is set
by hand. Prints microseconds per `encode_request`, median of five runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import (
    AwsCredentials,
    ChatRequest,
    Message,
    ProviderTarget,
    TextPart,
    provider_codec,
)
from tests.fakes import aws_environment

REQUEST = ChatRequest(
    "default",
    [Message("user", [TextPart("Summarise the attached notes in three bullet points. " * 20)])],
    system=["You are a concise assistant."],
    max_tokens=256,
)
PROFILE = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


def per_call(encode: object, iterations: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(iterations):
            encode()  # type: ignore[operator]
        runs.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=5000)
    args = parser.parse_args()
    # The fakes' synthetic key, and nothing of this machine's own AWS setup ("" is unset;
    # the folder of the files does not exist).
    for name, value in aws_environment("/nonexistent").items():
        if value:
            os.environ[name] = value
        else:
            os.environ.pop(name, None)
    aws = AwsCredentials("eu-central-1")
    aws.load()
    bedrock = ProviderTarget("https://bedrock-runtime.eu-central-1.amazonaws.com", PROFILE)
    anthropic = ProviderTarget("https://api.anthropic.com", "claude-sonnet-4-5", "key")
    cases = {
        "anthropic": lambda: provider_codec("anthropic").encode_request(REQUEST, anthropic),
        "bedrock, unsigned": lambda: provider_codec("bedrock").encode_request(REQUEST, bedrock),
        "bedrock, SigV4": lambda: provider_codec("bedrock", aws).encode_request(REQUEST, bedrock),
    }
    print("| call built by | µs per request |\n|---|---|")
    for name, encode in cases.items():
        print(f"| {name} | {per_call(encode, args.iterations):.1f} |")


if __name__ == "__main__":
    main()
