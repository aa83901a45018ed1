/**
 * Groups: the per-connection group filters and the rename pass that gives GUID-named groups their real names.
 * Shared by every channel: a SAML login, a SCIM push or an LDAP sync all name groups through renameGroups.
 */
import type { Store } from '../store/ports';
import { normaliseKey } from './normalise';
import type { Group, JitSettings } from './types';

/** Entra names groups by object id; a GUID-named group stays "unresolved" until a real name arrives. */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function looksLikeGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

/** A filter entry matches a group by its external id, or by its name once the name is known. */
export function matchesEntry(entries: readonly string[], externalId: string, known: Group | undefined): boolean {
  if (entries.length === 0) return false;
  const keys = new Set(entries.map(normaliseKey));
  if (keys.has(normaliseKey(externalId))) return true;
  return known !== undefined && known.nameResolved && keys.has(normaliseKey(known.displayName));
}

export interface GroupFilterDecision {
  /** The asserted group ids that may be created and synced. */
  kept: string[];
  /** Ids dropped by onlyGroups/excludeGroups (logged, never created). */
  ignored: string[];
  /** False when requireAnyGroup is set and none of the user's groups is in it. */
  admitted: boolean;
}

/**
 * Applies requireAnyGroup, onlyGroups and excludeGroups to the groups an IdP asserted.
 * `known` maps external id -> the stored group, so entries may name groups by their resolved names.
 * With `asserted` null (Entra overage) requireAnyGroup is judged on `fallbackMemberships`, the groups the user
 * already has from any source (SCIM or LDAP bring the full list).
 */
export function applyGroupFilters(
  jit: Pick<JitSettings, 'requireAnyGroup' | 'onlyGroups' | 'excludeGroups'>,
  asserted: readonly string[] | null,
  known: ReadonlyMap<string, Group>,
  fallbackMemberships: readonly Group[] = [],
): GroupFilterDecision {
  const candidates = asserted ?? [];
  const kept: string[] = [];
  const ignored: string[] = [];
  for (const externalId of candidates) {
    const group = known.get(externalId);
    const excluded = matchesEntry(jit.excludeGroups, externalId, group);
    const outsideOnly = jit.onlyGroups.length > 0 && !matchesEntry(jit.onlyGroups, externalId, group);
    (excluded || outsideOnly ? ignored : kept).push(externalId);
  }
  let admitted = true;
  if (jit.requireAnyGroup.length > 0) {
    admitted =
      asserted === null
        ? fallbackMemberships.some((g) => matchesEntry(jit.requireAnyGroup, g.externalId, g))
        : candidates.some((id) => !matchesEntry(jit.excludeGroups, id, known.get(id)) && matchesEntry(jit.requireAnyGroup, id, known.get(id)));
  }
  return { kept, ignored, admitted };
}

export interface RenameResult {
  /** External ids whose group now carries the given name (already-correct names count: the call is idempotent). */
  renamed: string[];
  /** External ids no group of the tenant has (nothing is created for them). */
  unknown: string[];
}

/**
 * The rename pass: gives each known group (by external id, e.g. an Entra object id) its real name, in place.
 * Memberships are untouched because the group keeps its id. Unknown ids are reported, never created.
 */
export async function renameGroups(
  store: Pick<Store, 'groups' | 'events'>,
  tenantId: string,
  names: ReadonlyMap<string, string>,
  context: { channel: 'saml' | 'scim' | 'ldap' | 'admin'; connectionId?: string | null; onProgress?: (done: number, total: number) => void },
): Promise<RenameResult> {
  const renamed: string[] = [];
  const unknown: string[] = [];
  let done = 0;
  for (const [externalId, rawName] of names) {
    const name = rawName.trim();
    const group = await store.groups.findByExternalId(tenantId, externalId.trim());
    if (!group) {
      unknown.push(externalId);
    } else {
      if (group.displayName !== name || !group.nameResolved) {
        await store.groups.rename(group.id, name);
        await store.events.append({
          tenantId,
          connectionId: context.connectionId ?? null,
          channel: context.channel,
          type: 'group_renamed',
          outcome: 'success',
          subject: externalId,
          reason: null,
          details: { groupId: group.id, from: group.displayName, to: name },
          at: new Date(),
        });
      }
      renamed.push(externalId);
    }
    done += 1;
    context.onProgress?.(done, names.size);
  }
  return { renamed, unknown };
}
