"""The image's HEALTHCHECK: exit 0 when Streamlit answers /_stcore/health, else 1.

Reads the port (PORT, default 8501) and a URL prefix (STREAMLIT_SERVER_BASE_URL_PATH) the way
entrypoint.sh and Streamlit do. Standard library only.
"""

import os
import sys
import urllib.request

port = os.environ.get("PORT", "8501")
prefix = os.environ.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
url = f"http://127.0.0.1:{port}/{prefix + '/' if prefix else ''}_stcore/health"
try:
    with urllib.request.urlopen(url, timeout=4) as reply:
        sys.exit(0 if reply.status == 200 else 1)
except OSError as error:
    print(f"{url}: {error}", file=sys.stderr)
    sys.exit(1)
