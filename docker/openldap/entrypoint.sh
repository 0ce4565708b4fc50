#!/bin/sh
# Entrypoint of the openldap service in docker-compose.yml (Debian's slapd package).
#
# First start (empty data volume): builds a cn=config configuration with slapadd -n0 — the
# system schemas core, cosine and inetorgperson, then the project's ldif/schema/eduperson.ldif
# and ldif/schema/jans.ldif, an mdb database for o=jans and the `unique` overlay on jansAttrName
# under ou=attributes — and loads ldif/base.ldif and ldif/attributes.ldif into it with slapadd.
# This mirrors the embedded directory of src/directory/slapd.ts. Later starts reuse the volume.
# Every start: runs slapd in the foreground as this (non-root) user.
#
# Environment:
#   LDAP_ADMIN_PASSWORD  password of cn=admin,o=jans (required on the first start only)
#   LDAP_PORT            TCP port of ldap:// (default 1389; unprivileged)
#   SLAPD_LOG_LEVEL      slapd -d level (default stats; none for quiet)
#   LDIF_DIR             where the project's ldif/ directory is mounted (default /ldif)
#   LDAP_DATA_DIR        configuration and database (default /var/lib/openldap, a volume)
set -eu
umask 077 # the configuration holds the admin password hash

SUFFIX='o=jans' # fixed: base.ldif and attributes.ldif are written for o=jans
LDAP_PORT="${LDAP_PORT:-1389}"
SLAPD_LOG_LEVEL="${SLAPD_LOG_LEVEL:-stats}"
LDIF_DIR="${LDIF_DIR:-/ldif}"
LDAP_DATA_DIR="${LDAP_DATA_DIR:-/var/lib/openldap}"
SYSTEM_SCHEMA_DIR=/etc/ldap/schema
MODULE_DIR=/usr/lib/ldap

config_dir="$LDAP_DATA_DIR/slapd.d"
db_dir="$LDAP_DATA_DIR/db"
marker="$LDAP_DATA_DIR/.initialized"

log() { printf 'openldap-entrypoint: %s\n' "$*" >&2; }

initialize() {
  if [ -z "${LDAP_ADMIN_PASSWORD:-}" ]; then
    log 'LDAP_ADMIN_PASSWORD must be set for the first start'
    exit 1
  fi
  for file in schema/eduperson.ldif schema/jans.ldif base.ldif attributes.ldif; do
    if [ ! -r "$LDIF_DIR/$file" ]; then
      log "$LDIF_DIR/$file is missing: mount the project's ldif/ directory at $LDIF_DIR"
      exit 1
    fi
  done

  # A first start that was interrupted leaves no marker: start over from nothing.
  rm -rf "$config_dir" "$db_dir"
  mkdir -p "$config_dir" "$db_dir"

  hash="$(printf '%s' "$LDAP_ADMIN_PASSWORD" | slappasswd -n -T /dev/stdin)"
  # Local administration: `ldapsearch -Y EXTERNAL -H ldapi:///` run inside the container as this user.
  peer="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  cat >"$config" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $MODULE_DIR
olcModuleLoad: back_mdb
olcModuleLoad: unique

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://$SYSTEM_SCHEMA_DIR/core.ldif

include: file://$SYSTEM_SCHEMA_DIR/cosine.ldif

include: file://$SYSTEM_SCHEMA_DIR/inetorgperson.ldif

include: file://$LDIF_DIR/schema/eduperson.ldif

include: file://$LDIF_DIR/schema/jans.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: to * by dn.exact="$peer" manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $SUFFIX
olcDbDirectory: $db_dir
olcRootDN: cn=admin,$SUFFIX
olcRootPW: $hash
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: inum eq
olcDbIndex: jansAttrName eq
olcAccess: to * by dn.exact="$peer" manage by anonymous auth by * none

dn: olcOverlay={0}unique,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {0}unique
olcUniqueURI: ldap:///ou=attributes,$SUFFIX?jansAttrName?one
LDIF

  log "creating the configuration in $config_dir"
  slapadd -F "$config_dir" -n 0 -l "$config"
  log "loading $LDIF_DIR/base.ldif and $LDIF_DIR/attributes.ldif into $SUFFIX"
  slapadd -F "$config_dir" -b "$SUFFIX" -l "$LDIF_DIR/base.ldif"
  slapadd -F "$config_dir" -b "$SUFFIX" -l "$LDIF_DIR/attributes.ldif"
  rm -f "$config"
  trap - EXIT
  date -u '+%Y-%m-%dT%H:%M:%SZ' >"$marker"
}

if [ ! -f "$marker" ]; then
  initialize
else
  log "using the existing configuration and database in $LDAP_DATA_DIR"
fi

exec slapd -d "$SLAPD_LOG_LEVEL" -h "ldap://:$LDAP_PORT/ ldapi:///" -F "$config_dir"
