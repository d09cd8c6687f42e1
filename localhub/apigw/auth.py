"""OAuth2 client credentials and JWT verification, as Cognito and API Gateway do them on AWS.

``POST /oauth2/token`` takes ``grant_type=client_credentials`` with the client's id and secret
(form fields or HTTP Basic) and an optional ``scope``; it answers an RS256 access token
carrying ``client_id``, ``scope``, ``iss``, ``exp`` and ``token_use=access`` (Cognito's claims).
:meth:`TokenIssuer.verify` is the local JWT authorizer: signature, issuer, expiry, audience
(the client id) and the route's scopes.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL_CLIENT_ID = "local-dev"
LOCAL_CLIENT_SECRET = "local-dev-secret"  # noqa: S105 - the documented local client, not a secret
TOKEN_LIFETIME_SECONDS = 3600


class AuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class Client:
    client_id: str
    secret: str
    scopes: frozenset[str]


@dataclass
class TokenIssuer:
    issuer: str
    clients: dict[str, Client] = field(default_factory=dict)
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def register(self, client_id: str, secret: str, scopes: set[str] | frozenset[str]) -> None:
        self.clients[client_id] = Client(client_id, secret, frozenset(scopes))

    # ------------------------------------------------------------------ token endpoint
    def issue(self, form: dict[str, str], authorization: str | None) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise AuthError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise AuthError(401, "invalid_client", "malformed Basic credentials") from None
        client = self.clients.get(client_id or "")
        if client is None or not secrets.compare_digest(client.secret, secret or ""):
            raise AuthError(401, "invalid_client", "unknown client or wrong secret")
        requested = set((form.get("scope") or "").split()) or set(client.scopes)
        if not requested <= client.scopes:
            raise AuthError(400, "invalid_scope", f"not allowed for this client: {' '.join(sorted(requested - client.scopes))}")
        now = int(time.time())
        claims = {
            "sub": client.client_id,
            "client_id": client.client_id,
            "iss": self.issuer,
            "token_use": "access",
            "scope": " ".join(sorted(requested)),
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    # ------------------------------------------------------------------ authorizer
    def verify(self, authorization: str | None, required_scopes: tuple[str, ...]) -> dict[str, Any]:
        """The token's claims, or :class:`AuthError` 401 (no or bad token) / 403 (missing scope)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError(401, "Unauthorized", "a Bearer token is required")
        try:
            claims: dict[str, Any] = jwt.decode(
                authorization[7:].strip(),
                self._key.public_key(),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss", "client_id"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(401, "Unauthorized", f"invalid token: {exc}") from None
        if claims.get("client_id") not in self.clients or claims.get("token_use") != "access":
            raise AuthError(401, "Unauthorized", "token not issued to a known client")
        granted = set(str(claims.get("scope", "")).split())
        if required_scopes and not granted.intersection(required_scopes):
            raise AuthError(403, "Forbidden", f"requires one of: {' '.join(required_scopes)}")
        return claims
