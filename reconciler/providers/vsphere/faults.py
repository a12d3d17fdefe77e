"""The error boundary of the vSphere client: pyVmomi faults and network errors become the engine's errors.

- a refused login (``vim.fault.InvalidLogin``) is one clear credential error naming the vCenter;
- a certificate that does not validate is a configuration error naming the CA bundle setting;
- the network (refused, reset, timed out, DNS), a busy object (``TaskInProgress``) and vCenter's own
  communication faults are ``TemporaryError``: worth retrying;
- a fault about the object's state (``InvalidState``, ``InvalidPowerState``) is a ``PreconditionError``;
- every other fault is a ``PermanentError`` carrying the fault's type and message.

Every message names the vCenter and what was being done; none carries a password.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from pyVmomi import vim, vmodl

from reconciler.core.errors import PermanentError, PreconditionError, ReconcilerError, TemporaryError

_TEMPORARY_FAULTS: tuple[type[BaseException], ...] = (
    vim.fault.TaskInProgress,
    vmodl.fault.HostCommunication,
    vim.fault.Timedout,
    vmodl.fault.RequestCanceled,
)
_PRECONDITION_FAULTS: tuple[type[BaseException], ...] = (vim.fault.InvalidState, vim.fault.InvalidPowerState)


def fault_name(fault: BaseException) -> str:
    """``vim.fault.InvalidLogin`` -> ``InvalidLogin``: the fault's short type name."""
    name = getattr(fault, "_wsdlName", None) or type(fault).__name__
    return str(name).rsplit(".", 1)[-1]


def fault_message(fault: BaseException) -> str:
    """The fault's own message (``msg``), else the first localized message, else its type name."""
    msg = getattr(fault, "msg", None)
    if not msg:
        messages = getattr(fault, "faultMessage", None) or []
        msg = next((getattr(m, "message", "") for m in messages if getattr(m, "message", "")), "")
    return str(msg or fault_name(fault))


def translate(exc: BaseException, *, server: str, action: str) -> ReconcilerError:
    """The engine error for ``exc``, raised while ``action`` against vCenter ``server``."""
    if isinstance(exc, ReconcilerError):
        return exc
    if isinstance(exc, vim.fault.InvalidLogin):
        return PermanentError(
            f"vCenter {server}: the login was refused (wrong user name or password): check RECONCILER_VSPHERE_USER "
            "and RECONCILER_VSPHERE_PASSWORD, or the vCenter's entry in RECONCILER_VSPHERE_LOGIN_FILE",
            code="InvalidLogin",
        )
    if isinstance(exc, vim.fault.NotAuthenticated):  # a NoPermission subclass: vCenter expired the session
        return TemporaryError(f"vCenter {server}: {action}: the session expired; it is opened again on retry")
    if isinstance(exc, vim.fault.NoPermission):
        privilege = getattr(exc, "privilegeId", "") or "a privilege"
        return PermanentError(
            f"vCenter {server}: {action}: the account lacks {privilege}; grant it in the tool's vCenter role "
            "(docs/vsphere.md lists the privileges)",
            code="NoPermission",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(
            f"vCenter {server}: its TLS certificate is not trusted ({exc.verify_message}): put its CA in "
            "RECONCILER_VSPHERE_CA_BUNDLE (a PEM file)",
            code="CertificateNotTrusted",
        )
    if isinstance(exc, _TEMPORARY_FAULTS):
        return TemporaryError(f"vCenter {server}: {action}: {fault_name(exc)}: {fault_message(exc)}")
    if isinstance(exc, _PRECONDITION_FAULTS):
        return PreconditionError(
            f"vCenter {server}: {action}: {fault_name(exc)}: {fault_message(exc)}", code=fault_name(exc)
        )
    if isinstance(exc, vmodl.MethodFault):
        name = fault_name(exc)
        return PermanentError(f"vCenter {server}: {action}: {name}: {fault_message(exc)}", code=name)
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror | http.client.HTTPException | ssl.SSLError):
        return TemporaryError(f"vCenter {server}: {action}: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return TemporaryError(f"vCenter {server}: {action}: {type(exc).__name__}: {exc.strerror or exc}")
    return PermanentError(f"vCenter {server}: {action}: unexpected {type(exc).__name__}: {exc}")


@contextmanager
def boundary(*, server: str, action: str) -> Iterator[None]:
    """Run a block of pyVmomi calls; whatever it raises leaves as an engine error."""
    try:
        yield
    except ReconcilerError:
        raise
    except Exception as exc:
        raise translate(exc, server=server, action=action) from exc
