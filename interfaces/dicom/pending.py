"""A C-FIND's pending responses, sent from their encoded bytes: one P-DATA each.

pynetdicom's own path for each pending response builds the DIMSE command set as a pydicom
dataset, encodes it twice (once for its group length), encodes the identifier again and sends
command and identifier as two P-DATA-TF PDUs, each through the DUL's queues and state machine:
most of radflow's CPU when a scanner's worklist has a few dozen entries. A C-FIND's pending
responses differ only by their identifier, so here their command set is encoded by pynetdicom's
own message class once per message id answered, each identifier is the worklist's encoded
answer as it is, and each response goes as one P-DATA primitive holding its two presentation
data values (the whole command, then the whole data set), through the association's DUL like
any other PDU (pynetdicom and dcmtk both read a message whose fragments share one PDU). A
response larger than the scanner's maximum PDU length goes through pynetdicom's `send_msg`,
which fragments it.
"""

from __future__ import annotations

import functools
from io import BytesIO

from pynetdicom.association import Association
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.pdu_primitives import P_DATA

PENDING = 0xFF00

# The message control header of a presentation data value (PS3.8 E.2): bit 0 command (1) or
# data set (0), bit 1 the last fragment of it.
LAST_COMMAND_FRAGMENT = b"\x03"
LAST_DATA_SET_FRAGMENT = b"\x02"
# Each presentation data value item's length (4 bytes), context id and control header.
ITEM_OVERHEAD = 6


@functools.lru_cache(maxsize=4096)
def _command(message_id: int, sop_class: str) -> bytes:
    """The encoded command set of a pending C-FIND response (with its fragment's header), by
    the request it answers: scanners number their messages from 1 on each association, so a
    few dozen serve every C-FIND."""
    response = C_FIND()
    response.MessageIDBeingRespondedTo = message_id
    response.AffectedSOPClassUID = sop_class
    response.Status = PENDING
    response.Identifier = BytesIO(b"\x00")  # says a data set follows the command
    message = C_FIND_RSP()
    message.primitive_to_message(response)
    command = encode(message.command_set, True, True)  # always implicit VR little endian
    if not command:
        raise ValueError("pynetdicom could not encode a C-FIND response's command set")
    return LAST_COMMAND_FRAGMENT + command


class PendingResponses:
    """The pending responses to one C-FIND request on one association."""

    def __init__(self, assoc: Association, request: C_FIND, context_id: int) -> None:
        self.assoc = assoc
        self.context_id = context_id
        self.response = C_FIND()
        self.response.MessageIDBeingRespondedTo = request.MessageID
        self.response.AffectedSOPClassUID = request.AffectedSOPClassUID
        self.response.Status = PENDING
        self.command = _command(int(request.MessageID or 0), str(request.AffectedSOPClassUID))
        self.room = assoc.dimse.maximum_pdu_size  # the scanner's; 0 means unlimited

    def send(self, identifier: bytes) -> None:
        """Send one pending response with this encoded identifier."""
        size = 2 * ITEM_OVERHEAD + len(self.command) - 1 + len(identifier)
        if self.room and size > self.room:
            self.response.Identifier = BytesIO(identifier)
            self.assoc.dimse.send_msg(self.response, self.context_id)
            return
        data = P_DATA()
        data.presentation_data_value_list.extend(
            [
                (self.context_id, self.command),
                (self.context_id, LAST_DATA_SET_FRAGMENT + identifier),
            ]
        )
        self.assoc.dul.send_pdu(data)
