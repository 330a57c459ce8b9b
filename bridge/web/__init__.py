"""The aiohttp application: thin handlers that parse, authenticate and hand to calls/."""
