"""API Gateway and Cognito locally: HTTP API events, routes, JWT authorizer, OAuth2 clients."""
