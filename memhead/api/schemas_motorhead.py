"""Request and response bodies of Motörhead's API: validation and the OpenAPI document in one."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from memhead.text import Role, Text


class MotorheadMessage(BaseModel):
    role: Role = Field(description="Passed through verbatim, e.g. `Human`/`AI` or `user`.")
    content: Text


class MotorheadPost(BaseModel):
    """Body of `POST /sessions/{id}/memory`; unknown fields are ignored."""

    messages: list[MotorheadMessage] = Field(min_length=1)
    context: Text | None = Field(
        None, description="Absent or null keeps the summary; any string replaces it."
    )


class MotorheadMemory(BaseModel):
    messages: list[MotorheadMessage] = Field(description="The window, newest first.")
    context: str | None = Field(description="The running summary of older messages.")
    tokens: int = Field(description="Provider tokens spent summarizing this session.")


class MotorheadRetrievalQuery(BaseModel):
    text: Text = Field(min_length=1, max_length=10_000)


class MotorheadHit(BaseModel):
    role: str
    content: str
    dist: float = Field(
        description=(
            "Distance to the query, lower is closer. With an embedder, for a message that has "
            "a vector: the cosine distance between the query's and the message's vectors "
            "(1 - cosine similarity, in [0, 2]). For a message without one (no embedder, or "
            "not embedded yet): 1 - 0.5 * score / best score of this search, in [0.5, 1] "
            "(0.5 for the best match). Hits come best first by the search's ranking."
        )
    )


class Status(BaseModel):
    status: Literal["Ok"] = "Ok"


class Now(BaseModel):
    now: int = Field(description="Milliseconds since the epoch.")
