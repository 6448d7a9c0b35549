/**
 * Turns an Authorization header into a Principal: the system root token, a token issued here
 * (raw, or salted for the cluster that forwarded the request), or a token from another
 * cluster (validated at its home cluster by the remote validator).
 */
import type { UserRecord } from "../api/types";
import { unauthenticated, unavailable } from "../errors";
import { clusterOf } from "../ids";
import { log } from "../log";
import { scopesOn } from "./authority";
import { secretMatcher, type LocalTokens, type VerifiedToken } from "./localTokens";
import type { Principal } from "./principal";
import { isSaltedSecret, parseToken, type ParsedToken } from "./tokenString";

/** Validates tokens issued by other clusters (src/federation/remoteTokens.ts). */
export interface RemoteTokenValidator {
  validate(token: string, parsed: ParsedToken): Promise<VerifiedToken>;
}

export interface AuthenticatorOptions {
  clusterId: string;
  systemRootToken: string;
  localTokens: LocalTokens;
  remote?: RemoteTokenValidator;
  /**
   * Whether this cluster knows cluster `id` (its table or pattern): only such a cluster may
   * look up a token salted for it. Absent: none may.
   */
  knowsCluster?: (id: string) => boolean;
  /** Salted look-ups of one token one asserted caller cluster may make per minute (cache misses). */
  saltedLookupsPerMinute: number;
  /**
   * Whether systemRootToken is still the cluster's current one (another process of it may have
   * started with a new one). Absent: not checked (a root token generated for one run).
   */
  rootIsCurrent?: () => Promise<boolean>;
  /** Told when a cluster validated one of our tokens (so a revocation can be pushed to it). */
  onSaltedUse?: (tokenUuid: string, cluster: string) => Promise<void>;
}

/** The token carried by `Authorization: Bearer …` or `Authorization: OAuth2 …`. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(Bearer|OAuth2)\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthenticated("Authorization header must be \"Bearer <token>\" or \"OAuth2 <token>\"");
  return m[2];
}

export class Authenticator {
  private readonly systemUser: UserRecord;
  private readonly isSystemRootToken: (token: string) => boolean;
  private window = { minute: 0, counts: new Map<string, number>() };

  constructor(private readonly o: AuthenticatorOptions) {
    this.systemUser = systemUser(o.clusterId);
    this.isSystemRootToken = secretMatcher(o.systemRootToken);
  }

  /** `forwardedFor`: the X-Fedgate-Forwarded-For header, naming the cluster that sent the request. */
  async authenticate(token: string, forwardedFor?: string): Promise<Principal> {
    if (this.isSystemRootToken(token)) {
      if (this.o.rootIsCurrent && !(await this.o.rootIsCurrent()))
        throw unauthenticated("this systemRootToken has been replaced: a process of this cluster started with another one");
      return { user: this.systemUser, isRoot: true, token: null, scopeSets: [null] };
    }
    const parsed = parseToken(token);
    if (!parsed) throw unauthenticated("malformed token: expected v2/<uuid>/<secret>");
    const home = clusterOf(parsed.uuid);
    const verified = home === this.o.clusterId ? await this.verifyLocal(parsed, forwardedFor) : await this.verifyRemote(token, parsed);
    if (home !== this.o.clusterId) await this.requireRemoteBinding(verified, parsed);
    // A salted look-up is made for the cluster it was salted for: the scopes in force there apply
    // (a token that cluster must refuse gets no identity look-ups either).
    const where = verified.salted ? forwardedFor! : this.o.clusterId;
    const scopeSets = scopesOn(verified.token, where);
    if (!scopeSets) throw unauthenticated(`token is not valid on cluster ${where} (not in its clusterScopes)`);
    return {
      user: verified.user,
      isRoot: false,
      token: verified.token,
      scopeSets,
      saltedFor: verified.salted ? forwardedFor : undefined,
      homeGroups: verified.homeGroups,
    };
  }

  private async verifyLocal(parsed: ParsedToken, forwardedFor?: string): Promise<VerifiedToken> {
    // Only a salted secret can match for another cluster (HMAC-SHA1 in hex), and only one this cluster knows may ask.
    if (forwardedFor && isSaltedSecret(parsed.secret) && !this.o.knowsCluster?.(forwardedFor))
      throw unauthenticated(`cluster ${forwardedFor} is not known here: tokens salted for it are not accepted`);
    const result = await this.o.localTokens.verify(parsed, forwardedFor);
    if (!result.ok) throw unauthenticated(result.reason);
    if (result.value.salted && result.fresh) {
      this.countSaltedLookup(forwardedFor!, parsed.uuid);
      await this.o.onSaltedUse?.(parsed.uuid, forwardedFor!);
    }
    return result.value;
  }

  private async verifyRemote(token: string, parsed: ParsedToken): Promise<VerifiedToken> {
    if (!this.o.remote) throw unauthenticated(`tokens from cluster ${clusterOf(parsed.uuid)} are not accepted here`);
    return this.o.remote.validate(token, parsed);
  }

  /**
   * A token of another cluster bound to a container (a runtime token's child minted by its home
   * for a container here): its 4th field may name only that container, and it works only while
   * that container is Locked or Running, which its home cannot see, and only while it is the
   * token that container's current lock got (authUuid): a child of an earlier lock, whose
   * revocation at its home may never have happened, is refused.
   */
  private async requireRemoteBinding(verified: VerifiedToken, parsed: ParsedToken): Promise<void> {
    const bound = verified.token.containerUuid ?? undefined;
    if (parsed.containerUuid && parsed.containerUuid !== bound) throw unauthenticated("token is not bound to that container");
    if (bound && clusterOf(bound) === this.o.clusterId && !(await this.o.localTokens.containerActive(bound, verified.token.uuid)))
      throw unauthenticated("container tokens are accepted only while their container is Locked or Running, and only the token of its current lock");
  }

  /**
   * The caller cluster only asserts who it is, so salted look-ups that reach the database are
   * logged and limited per token and asserted cluster (a fixed one-minute window): one
   * token's holder cannot use up another's allowance.
   */
  countSaltedLookup(cluster: string, tokenUuid: string): void {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.window.minute) this.window = { minute, counts: new Map() };
    const key = `${cluster}/${tokenUuid}`;
    const n = (this.window.counts.get(key) ?? 0) + 1;
    this.window.counts.set(key, n);
    if (n > this.o.saltedLookupsPerMinute) {
      log.warn("salted token look-ups over the limit", { cluster, tokenUuid });
      throw unavailable(`too many look-ups of token ${tokenUuid} from cluster ${cluster}; try again in a minute`);
    }
    log.info("salted token look-up", { cluster, tokenUuid });
  }
}

/** The system administrator that the root token acts as (Arvados: <cluster>-tpzed-000000000000000). */
export function systemUser(clusterId: string): UserRecord {
  return { uuid: `${clusterId}-tpzed-000000000000000`, email: "root", fullName: "System root", isActive: true, isAdmin: true };
}
