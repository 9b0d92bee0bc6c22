"""Cloud Controller errors: the CF v3 error triple (HTTP status, code, title) and its detail."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class CFError(Exception):
    """A CF API error: HTTP status, CF code, title and detail."""

    def __init__(self, status: int, code: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.title, self.detail = status, code, title, detail


def not_found(kind: str) -> CFError:
    return CFError(404, 10010, "CF-ResourceNotFound", f"{kind} not found")


def unprocessable(detail: str) -> CFError:
    return CFError(422, 10008, "CF-UnprocessableEntity", detail)


def in_progress(name: str) -> CFError:
    return CFError(409, 60016, "CF-AsyncServiceInstanceOperationInProgress",
                   f"An operation for service instance {name} is in progress.")


def cf_error(status: int, code: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "title": title, "detail": detail}]}, status_code=status)
