"""WS-Management SOAP for the tests' WinRM endpoint (``tests/winrm_endpoint.py``): the namespaces and
actions of the WinRS shell protocol, reading a request, and writing a response or a fault the way Windows
does (pywinrm reads the ShellId selector, CommandId, streams, CommandState and WSManFault codes)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
TIMED_OUT = 2150858793  # the WSManFault code of an OperationTimeout (pywinrm retries it on Receive)
SHELL_NOT_FOUND = 2150858843
ACTIONS = {
    f"{TRANSFER}/Create": "Create",
    f"{TRANSFER}/Delete": "Delete",
    f"{SHELL}/Command": "Command",
    f"{SHELL}/Send": "Send",
    f"{SHELL}/Receive": "Receive",
    f"{SHELL}/Signal": "Signal",
}


class Fault(Exception):
    """A request the endpoint answers with a SOAP fault."""

    def __init__(
        self, status: int, reason: str, *, wsman_code: int = 2150858770, subcode: str = "w:InternalError"
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.wsman_code, self.subcode = status, reason, wsman_code, subcode


def text(element: ET.Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path, NS)
    return found.text or "" if found is not None else ""


def options(root: ET.Element) -> dict[str, str]:
    return {o.get("Name", ""): o.text or "" for o in root.findall("s:Header/w:OptionSet/w:Option", NS)}


def envelope(action: str, relates_to: str, body: str) -> bytes:
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NS.items())
    return (
        f'<s:Envelope xml:lang="en-US" {namespaces}><s:Header><a:Action>{action}</a:Action>'
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(relates_to: str, fault: Fault) -> bytes:
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{fault.wsman_code}" '
        f'Machine="127.0.0.1"><f:Message>{escape(fault.reason)}</f:Message></f:WSManFault></s:Detail></s:Fault>'
    )
    return envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)
