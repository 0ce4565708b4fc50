#!/bin/sh
# Entrypoint of the openldap service in docker-compose.yml (Debian's slapd package).
#
# First start (empty data volume): builds a cn=config configuration with slapadd -n0 — the
# system schemas core, cosine and inetorgperson, then the project's ldif/schema/eduperson.ldif
# and ldif/schema/jans.ldif, an mdb database for o=jans with the `unique` overlay on jansAttrName
# under ou=attributes, `syncprov` (contextCSN) and `accesslog` (writes under ou=attributes, kept an
# hour in a second database, cn=changelog, which the registry polls to keep its index current), with
# the name claims (ou=attributeNames) and the audit trail (ou=audit) in databases of their own — and
# loads ldif/base.ldif, attributes.ldif and scopes.ldif into it with slapadd.
# This is the layout of the embedded directory, embeddedConfig in src/directory/slapd-config.ts,
# except that slapd runs in the foreground (no pid file) and this container's user administers it
# through ldapi:/// rather than a cn=config password; test/integration/openldap-entrypoint.test.ts
# compares the two configurations read back from slapd, so that they cannot drift apart.
# Later starts reuse the volume.
# Every start: runs slapd in the foreground as this (non-root) user.
#
# Multi-provider replication (the `replicated` profile of docker-compose.yml): with LDAP_PEER_URLS
# set, the first start also gives cn=config an olcServerID and, on each of the three databases,
# one olcSyncrepl per peer (refreshAndPersist, bound as cn=admin,o=jans with LDAP_ADMIN_PASSWORD,
# which all providers must therefore share) and olcMultiProvider: TRUE. Only the provider with
# LDAP_SEED=true loads base.ldif, attributes.ldif and scopes.ldif; the others start empty and receive the seed
# by replication. Replication is configured on the first start only, like everything else here: to
# change the peers, recreate the data volume.
#
# Environment:
#   LDAP_ADMIN_PASSWORD  password of cn=admin,o=jans (required on the first start only)
#   LDAP_PORT            TCP port of ldap:// (default 1389; unprivileged)
#   SLAPD_LOG_LEVEL      slapd -d level (default stats; none for quiet)
#   LDIF_DIR             where the project's ldif/ directory is mounted (default /ldif)
#   LDAP_LDAPI_URL       the local-administration socket (default ldapi:///, i.e. /run/slapd/ldapi)
#   LDAP_DATA_DIR        configuration and database (default /var/lib/openldap, a volume)
#   LDAP_SEED            true (default) loads base.ldif, attributes.ldif and scopes.ldif on the first start;
#                        false starts with an empty o=jans (for a provider that replicates the seed)
#   LDAP_PEER_URLS       space-separated ldap:// URLs of the other providers, e.g.
#                        "ldap://openldap-b:1389"; unset or empty: no replication
#   LDAP_SERVER_ID       this provider's olcServerID, 1 to 4095, distinct on every provider
#                        (required with LDAP_PEER_URLS)
set -eu
umask 077 # the configuration holds the admin password hash

SUFFIX='o=jans' # fixed: base.ldif and attributes.ldif are written for o=jans
LDAP_PORT="${LDAP_PORT:-1389}"
SLAPD_LOG_LEVEL="${SLAPD_LOG_LEVEL:-stats}"
LDIF_DIR="${LDIF_DIR:-/ldif}"
LDAP_LDAPI_URL="${LDAP_LDAPI_URL:-ldapi:///}"
LDAP_DATA_DIR="${LDAP_DATA_DIR:-/var/lib/openldap}"
LDAP_SEED="${LDAP_SEED:-true}"
LDAP_PEER_URLS="${LDAP_PEER_URLS:-}"
LDAP_SERVER_ID="${LDAP_SERVER_ID:-}"
SYSTEM_SCHEMA_DIR=/etc/ldap/schema
MODULE_DIR=/usr/lib/ldap

config_dir="$LDAP_DATA_DIR/slapd.d"
db_dir="$LDAP_DATA_DIR/db"
changelog_dir="$LDAP_DATA_DIR/changelog"
names_dir="$LDAP_DATA_DIR/attributeNames"
audit_dir="$LDAP_DATA_DIR/audit"
marker="$LDAP_DATA_DIR/.initialized"

log() { printf 'openldap-entrypoint: %s\n' "$*" >&2; }

# `name: value` as an LDIF line, or `name:: base64` when the value is not printable ASCII.
ldif_line() {
  if [ -n "$(printf '%s' "$2" | LC_ALL=C tr -d ' -~')" ]; then
    printf '%s:: %s\n' "$1" "$(printf '%s' "$2" | base64 | tr -d '\n')"
  else
    printf '%s: %s\n' "$1" "$2"
  fi
}

# The cn=config lines of multi-provider replication (see the header), in variables that the
# configuration below places at the start of a line: each is empty (without LDAP_PEER_URLS) or
# ends with a newline, so that no blank line splits an entry and the configuration without
# replication stays as it was.
replication_config() {
  server_id_line='' syncrepl_lines='' syncrepl_names='' syncrepl_audit=''
  [ -n "$LDAP_PEER_URLS" ] || return 0
  case "$LDAP_SERVER_ID" in
    '' | *[!0-9]* | 0*)
      log "LDAP_SERVER_ID must be a number from 1 to 4095 with LDAP_PEER_URLS (got '$LDAP_SERVER_ID')"
      exit 1
      ;;
  esac
  if [ "$LDAP_SERVER_ID" -gt 4095 ]; then
    log "LDAP_SERVER_ID must be a number from 1 to 4095 (got '$LDAP_SERVER_ID')"
    exit 1
  fi
  # The password goes into olcSyncrepl as credentials="...". slapd splits cn=config values at
  # spaces outside double quotes and has no escape character there (a backslash is an ordinary
  # character), so a password can hold anything but a double quote.
  case "$LDAP_ADMIN_PASSWORD" in
    *\"*)
      log 'LDAP_ADMIN_PASSWORD must not contain a double quote (") with LDAP_PEER_URLS'
      exit 1
      ;;
  esac
  index=0
  set -f # split LDAP_PEER_URLS on spaces, without expanding * or ?
  for url in $LDAP_PEER_URLS; do
    case "$url" in
      ldap://?* | ldaps://?*) ;;
      *)
        log "LDAP_PEER_URLS: '$url' is not an ldap:// or ldaps:// URL"
        exit 1
        ;;
    esac
    case "$url" in
      *[\\\"]*)
        log "LDAP_PEER_URLS: '$url' must not contain quotes or backslashes"
        exit 1
        ;;
    esac
    index=$((index + 1))
    syncrepl_lines="$syncrepl_lines$(syncrepl_line "$url" "$SUFFIX" 0)
"
    syncrepl_names="$syncrepl_names$(syncrepl_line "$url" "ou=attributeNames,$SUFFIX" 100)
"
    syncrepl_audit="$syncrepl_audit$(syncrepl_line "$url" "ou=audit,$SUFFIX" 200)
"
  done
  set +f
  if [ "$index" -eq 0 ] || [ "$index" -gt 99 ]; then
    log "LDAP_PEER_URLS must list 1 to 99 URLs (got $index)"
    exit 1
  fi
  server_id_line="olcServerID: $LDAP_SERVER_ID
"
  syncrepl_lines="${syncrepl_lines}olcMultiProvider: TRUE
"
  syncrepl_names="${syncrepl_names}olcMultiProvider: TRUE
"
  syncrepl_audit="${syncrepl_audit}olcMultiProvider: TRUE
"
}

# One olcSyncrepl line: peer URL, search base, and the offset of its rid (one range per database).
syncrepl_line() {
  ldif_line olcSyncrepl "{$((index - 1))}rid=$(printf '%03d' "$(($3 + index))") provider=$1 \
bindmethod=simple binddn=\"cn=admin,$SUFFIX\" credentials=\"$LDAP_ADMIN_PASSWORD\" searchbase=\"$2\" \
type=refreshAndPersist retry=\"1 +\" timeout=3 network-timeout=3"
}

# A database of its own for ou=$1 (directory $2), ahead of the main one (an inner suffix comes
# first), replicated like it: $3 is its number, $4 its syncrepl lines, any further arguments indexes
# beyond the three every database has.
own_database() {
  ou="$1" dir="$2" number="$3" syncrepl="$4"
  shift 4
  indexes=''
  for index in 'objectClass eq' 'entryCSN eq' 'entryUUID eq' "$@"; do
    indexes="${indexes}olcDbIndex: $index
"
  done
  cat <<LDIF
dn: olcDatabase={$number}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {$number}mdb
olcSuffix: ou=$ou,$SUFFIX
olcDbDirectory: $dir
olcRootDN: cn=admin,$SUFFIX
olcDbMaxSize: 4294967296
${indexes}olcAccess: to * by dn.exact="$peer" manage by anonymous auth by * none
$syncrepl
dn: olcOverlay={0}syncprov,olcDatabase={$number}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
olcSpCheckpoint: 100 10

LDIF
}

initialize() {
  if [ -z "${LDAP_ADMIN_PASSWORD:-}" ]; then
    log 'LDAP_ADMIN_PASSWORD must be set for the first start'
    exit 1
  fi
  case "$LDAP_SEED" in
    true) seed_files='base.ldif attributes.ldif scopes.ldif' ;;
    false) seed_files='' ;;
    *)
      log "LDAP_SEED must be true or false (got '$LDAP_SEED')"
      exit 1
      ;;
  esac
  for file in schema/eduperson.ldif schema/jans.ldif $seed_files; do
    if [ ! -r "$LDIF_DIR/$file" ]; then
      log "$LDIF_DIR/$file is missing: mount the project's ldif/ directory at $LDIF_DIR"
      exit 1
    fi
  done

  # A first start that was interrupted leaves no marker: start over from nothing.
  rm -rf "$config_dir" "$db_dir" "$changelog_dir" "$names_dir" "$audit_dir"
  mkdir -p "$config_dir" "$db_dir" "$changelog_dir" "$names_dir" "$audit_dir"

  hash="$(printf '%s' "$LDAP_ADMIN_PASSWORD" | slappasswd -n -T /dev/stdin)"
  # Local administration: `ldapsearch -Y EXTERNAL -H ldapi:///` run inside the container as this user.
  peer="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"
  replication_config
  config="$(mktemp)"
  trap 'rm -f "$config"' EXIT
  cat >"$config" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
$server_id_line
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $MODULE_DIR
olcModuleLoad: back_mdb
olcModuleLoad: unique
olcModuleLoad: syncprov
olcModuleLoad: accesslog

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

$(own_database attributeNames "$names_dir" 1 "$syncrepl_names")

$(own_database audit "$audit_dir" 2 "$syncrepl_audit" 'registryAuditTarget eq')

dn: olcDatabase={3}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {3}mdb
olcSuffix: $SUFFIX
olcDbDirectory: $db_dir
olcRootDN: cn=admin,$SUFFIX
olcRootPW: $hash
olcDbMaxSize: 4294967296
olcDbIndex: objectClass eq
olcDbIndex: inum eq
olcDbIndex: jansAttrName eq
olcDbIndex: jansClaimName eq
olcDbIndex: jansStatus eq
olcDbIndex: jansClaim eq
olcDbIndex: registryAuditTarget eq
olcDbIndex: registryValueNextExpiry eq,pres
olcDbIndex: registrySessionId eq
olcDbIndex: registrySessionUser eq
olcDbIndex: entryCSN eq
olcDbIndex: entryUUID eq
olcAccess: to * by dn.exact="$peer" manage by anonymous auth by * none
$syncrepl_lines
dn: olcOverlay={0}unique,olcDatabase={3}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcUniqueConfig
olcOverlay: {0}unique
olcUniqueURI: ldap:///ou=attributes,$SUFFIX?jansAttrName?one

dn: olcOverlay={1}syncprov,olcDatabase={3}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {1}syncprov
olcSpCheckpoint: 100 10

dn: olcOverlay={2}accesslog,olcDatabase={3}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcAccessLogConfig
olcOverlay: {2}accesslog
olcAccessLogDB: cn=changelog
olcAccessLogBase: writes ou=attributes,$SUFFIX
olcAccessLogSuccess: TRUE
olcAccessLogPurge: 01:00 00:10

dn: olcDatabase={4}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {4}mdb
olcSuffix: cn=changelog
olcDbDirectory: $changelog_dir
olcRootDN: cn=admin,$SUFFIX
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: reqEnd eq
olcAccess: to * by dn.exact="cn=admin,$SUFFIX" read by * none
LDIF

  log "creating the configuration in $config_dir"
  slapadd -F "$config_dir" -n 0 -l "$config"
  if [ "$LDAP_SEED" = true ]; then
    for file in base.ldif attributes.ldif scopes.ldif; do
      log "loading $LDIF_DIR/$file into $SUFFIX"
      if [ -n "$LDAP_PEER_URLS" ]; then
        # Replicated: entryCSNs with this provider's server ID, and a contextCSN (-w) for syncprov.
        slapadd -F "$config_dir" -b "$SUFFIX" -S "$LDAP_SERVER_ID" -w -l "$LDIF_DIR/$file"
      else
        slapadd -F "$config_dir" -b "$SUFFIX" -l "$LDIF_DIR/$file"
      fi
    done
  else
    log "LDAP_SEED=false: $SUFFIX starts empty${LDAP_PEER_URLS:+ and receives its entries by replication}"
  fi
  rm -f "$config"
  trap - EXIT
  date -u '+%Y-%m-%dT%H:%M:%SZ' >"$marker"
}

if [ ! -f "$marker" ]; then
  initialize
else
  log "using the existing configuration and database in $LDAP_DATA_DIR"
fi

exec slapd -d "$SLAPD_LOG_LEVEL" -h "ldap://:$LDAP_PORT/ $LDAP_LDAPI_URL" -F "$config_dir"
