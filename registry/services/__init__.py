"""The rules of the registry and its transaction boundaries. Views call these; these never see HTTP."""
