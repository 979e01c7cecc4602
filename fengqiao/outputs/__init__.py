"""Human-facing outputs: the weekly briefing, alerts to bureaus, and a local mail sink for demos.

- :func:`fengqiao.outputs.briefing.render_briefing` writes ``outputs/briefings/<week>.html``.
- :func:`fengqiao.outputs.alerts.plan_alerts` / :func:`~fengqiao.outputs.alerts.send_alerts` mail each
  flagged region to its bureau and append to ``gold/alerts``.
- :func:`fengqiao.outputs.mailsink.local_mail_sink` is a loopback SMTP server that saves ``.eml`` files.

The submodules are imported on demand so that rendering a briefing does not load the SMTP stack.
"""
