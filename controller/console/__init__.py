"""The guards' web console, served by the controller process (docs/console.md).

``routes.install(app, service)`` adds the pages, the JSON API, the live
WebSocket and the static assets to the controller's Starlette app.
"""
