# The daxcrash checkout as a container image, for campaigns run as jobs
# (docs/examples/k8s-indexed-job.yaml, docs/scaling.md):
#
#   docker build -t daxcrash:0.2.0 .
#   docker run --rm daxcrash:0.2.0                       # the demo (npm start)
#   docker run --rm daxcrash:0.2.0 node bin/daxcrash.js run --suite bounded-2 --seed 42
#
# Node 20 on Debian, e2fsprogs for the real e2fsck the campaigns run on recovered images,
# `npm install` as the README's set-up does (devDependencies included: bin/daxcrash.js runs
# the TypeScript sources through ts-node and SWC), and a user that is not root.
FROM node:20-bookworm-slim

RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends e2fsprogs \
  && rm -rf /var/lib/apt/lists/*

# the node image's unprivileged user (uid 1000) owns the checkout and installs into it
WORKDIR /app
RUN chown node:node /app
USER node
COPY --chown=node:node package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY --chown=node:node . .
ENV PATH="/usr/sbin:/sbin:${PATH}"
CMD ["node", "bin/daxcrash.js", "demo"]
