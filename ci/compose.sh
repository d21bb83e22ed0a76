# Sourced by the scripts that start EventStoreDB with Docker: sets $compose
# to the Compose v2 command ("docker compose" or "docker-compose"), or says
# what is missing on standard error and exits with 2. The caller sets $me
# (its name, for the messages) and $own (what to do instead).
if ! command -v docker >/dev/null 2>&1; then
	echo "$me: docker is not installed (not found on PATH); it starts EventStoreDB in Docker. Install Docker, $own" >&2
	exit 2
fi
if docker compose version >/dev/null 2>&1; then
	compose="docker compose"
elif command -v docker-compose >/dev/null 2>&1; then
	compose="docker-compose"
	if ! docker-compose up --help 2>/dev/null | grep -q -- --wait; then
		echo "$me: docker-compose has no 'up --wait' (Compose v1); install Compose v2 (the docker compose plugin), $own" >&2
		exit 2
	fi
else
	echo "$me: neither 'docker compose' (the Compose plugin) nor docker-compose is installed; install one, $own" >&2
	exit 2
fi
if ! docker info >/dev/null 2>&1; then
	echo "$me: docker is installed but its daemon does not answer ('docker info' failed); start Docker, $own" >&2
	exit 2
fi
