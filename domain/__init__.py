"""The radiology department: tables, the exam lifecycle, services and domain events."""
