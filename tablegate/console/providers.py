"""The console's model, behind one small interface: ``complete(system, question) -> text``.

Two providers: the Anthropic Messages API through the official ``anthropic`` SDK, and any
OpenAI-compatible chat completions endpoint (llama.cpp, vLLM, Ollama and hosted ones) through
``httpx``, configured by its base URL. Neither is trusted: whatever they answer goes through
``guard`` before the database sees it.
"""
from __future__ import annotations

import re
from typing import Protocol

import httpx

from tablegate.config import Config
from tablegate.errors import TablegateError

#: Said by the command and logged by the app when the console has no model.
NOT_CONFIGURED = (
    "The console needs a model. Set TABLEGATE_LLM_PROVIDER=anthropic with TABLEGATE_LLM_MODEL "
    "(and TABLEGATE_LLM_API_KEY, or ANTHROPIC_API_KEY), or TABLEGATE_LLM_PROVIDER=openai with "
    "TABLEGATE_LLM_BASE_URL and TABLEGATE_LLM_MODEL (and TABLEGATE_LLM_API_KEY if the server "
    "wants one).")

MAX_TOKENS = 1024

_FENCE = re.compile(r"```(?:[A-Za-z]*)\s*\n(.*?)```", re.S)


class ProviderError(TablegateError):
    """The model could not be asked (unreachable, refused the key, answered nonsense)."""
    status = 502


class Provider(Protocol):
    name: str

    def complete(self, system: str, question: str) -> str: ...


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, model: str, api_key: str, base_url: str | None, timeout_s: float) -> None:
        import anthropic  # the SDK is imported when a provider is made, not with the package

        self.model = model
        self._errors = anthropic.AnthropicError
        self._client = anthropic.Anthropic(api_key=api_key or None, base_url=base_url,
                                           timeout=timeout_s, max_retries=1)

    def complete(self, system: str, question: str) -> str:
        try:
            message = self._client.messages.create(
                model=self.model, max_tokens=MAX_TOKENS, system=system,
                messages=[{"role": "user", "content": question}])
        except self._errors as exc:
            raise ProviderError(f"The model could not be asked: {type(exc).__name__}") from None
        return "".join(block.text for block in message.content if block.type == "text")


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(self, model: str, api_key: str, base_url: str, timeout_s: float) -> None:
        self.model = model
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = timeout_s

    def complete(self, system: str, question: str) -> str:
        body = {"model": self.model, "temperature": 0, "max_tokens": MAX_TOKENS,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": question}]}
        try:
            response = httpx.post(self._url, json=body, headers=self._headers,
                                  timeout=self._timeout)
            response.raise_for_status()
            return response.json()["choices"][0]["message"]["content"] or ""
        except httpx.HTTPError as exc:
            raise ProviderError(f"The model could not be asked: {type(exc).__name__}") from None
        except (ValueError, KeyError, IndexError, TypeError):
            raise ProviderError("The model's answer was not a chat completion") from None


def problem(config: Config) -> str | None:
    """What is missing for a model, in the words of the settings; None when nothing is."""
    if not config.llm_provider or not config.llm_model:
        return NOT_CONFIGURED
    if config.llm_provider == "openai" and not config.llm_base_url:
        return NOT_CONFIGURED
    return None


def from_config(config: Config) -> Provider | None:
    """The configured provider, or None when ``problem(config)`` says what is missing."""
    if problem(config):
        return None
    if config.llm_provider == "anthropic":
        return AnthropicProvider(config.llm_model, config.llm_api_key, config.llm_base_url,
                                 config.llm_timeout_seconds)
    return OpenAICompatibleProvider(config.llm_model, config.llm_api_key,
                                    config.llm_base_url or "", config.llm_timeout_seconds)


def extract_sql(answer: str) -> str:
    """The SQL of an answer: the first fenced block if there is one, else the whole text."""
    fenced = _FENCE.search(answer)
    return (fenced.group(1) if fenced else answer).strip()
