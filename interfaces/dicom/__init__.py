"""DICOM: the scanners' Modality Worklist and MPPS (pynetdicom), and the PACS's studies.

`worklist` finds the exams a scanner's C-FIND asks for and encodes its answers; `pending`
sends them, each as one P-DATA from its encoded bytes; `mpps` runs the procedure steps a
scanner reports as the application's commands; `server` is the pynetdicom service class
provider, bridged to the event loop; `uids` is the Study Instance UID radflow assigns. The
conformance statement is docs/dicom.md.
"""
