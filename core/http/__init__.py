"""The HTTP edge shared by every area: problem details, request logging, system routes."""
