"""What every self-contained HTML report (drift, drill) shares: the style sheet and how text is put on the page
(unprintable characters written as escapes, then HTML-escaped). Pure; nothing is ever loaded from anywhere."""

from __future__ import annotations

from html import escape

from reconciler.reports import values

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#59636e;font-size:12px;margin-bottom:12px}
.headline{font-size:16px;font-weight:600;padding:10px 14px;border-radius:6px;
background:#fff8c5;border:1px solid #d4a72c}
.headline.ok{background:#dafbe1;border-color:#4ac26b}
.headline.bad{background:#ffebe9;border-color:#cf222e}
table{border-collapse:collapse;margin:6px 0;width:100%}
th,td{border:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.zero{color:#8c959f}code{font:12px ui-monospace,SFMono-Regular,Consolas,monospace;word-break:break-all}
.before{background:#dafbe1}.after{background:#ffebe9}
.sev-critical{color:#fff;background:#cf222e;border-radius:4px;padding:1px 6px}
.sev-warning{color:#1f2328;background:#d4a72c;border-radius:4px;padding:1px 6px}
.muted{color:#59636e}
"""


def text(value: object) -> str:
    """Any text on the page: unprintable characters written as escapes, then HTML-escaped."""
    return escape(values.text(value), quote=True)


__all__ = ["CSS", "text"]
