"""The web view: read-only pages for people outside the incident channel.

``/`` lists incidents, ``/incidents/{n}`` shows one (live, over Server-Sent Events),
``/incidents/{n}/postmortem`` its post-mortem, ``/insights`` the trends. Sign-in by a
trusted proxy header or a token (``auth``, ``sessions``, ``signin``); reads in
``list_query``, ``incident_query`` and ``insights``; charts drawn as SVG by ``svg``;
``build_webview`` makes the routes the web app serves. Nothing here changes an incident: actions stay
in Slack and the console. See docs/web.md.
"""

from bot.webview.install import WebView, build_webview

__all__ = ["WebView", "build_webview"]
