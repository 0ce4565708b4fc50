# Attribute registry service. Build: docker build -t jans-attribute-registry .
# Run it against an external directory (LDAP_URL, LDAP_BIND_DN, LDAP_BIND_PASSWORD), for example
# with docker-compose.yml. Without LDAP_URL the service would start its own slapd, which this
# image does not contain.

# --- build: all dependencies, TypeScript compiled to dist/ ---
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No dependency needs an install script to compile the service.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, dist/, and the files read at run time ---
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/.data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && mkdir -p /app/.data \
    && chown node:node /app/.data
COPY --from=build /app/dist ./dist
COPY openapi ./openapi
COPY ldif ./ldif

# DATA_DIR holds the development JWT key pair when JWT_PUBLIC_KEY_FILE is not set: mount a volume
# there to keep it across container re-creation.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# What `npm start` runs, compiled by `npm run build` above (src/main.ts sets the heap's growth itself).
CMD ["node", "dist/main.js"]
