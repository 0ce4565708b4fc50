import { AndFilter, EqualityFilter, NotFilter, OrFilter, SubstringFilter, type Filter } from 'ldapts';
import type { Condition } from '../attributes/query.js';
import { LDAP_NAMES } from './definition-entry.js';

/** The filters of definition searches, built as ldapts filter objects: user text only ever becomes a value. */
export const IS_DEFINITION = new EqualityFilter({ attribute: 'objectClass', value: 'jansAttr' });

/** Translates a domain condition into ldapts filter objects: user text only ever becomes a value. */
export function toFilter(condition: Condition): Filter {
  switch (condition.kind) {
    case 'equals':
      return new EqualityFilter({
        attribute: LDAP_NAMES[condition.field],
        value: condition.value === true ? 'TRUE' : condition.value,
      });
    case 'contains':
      return new OrFilter({
        filters: condition.fields.map(
          (field) => new SubstringFilter({ attribute: LDAP_NAMES[field], any: [condition.text] }),
        ),
      });
    case 'any':
      return new OrFilter({ filters: condition.of.map(toFilter) });
    case 'all':
      return new AndFilter({ filters: condition.of.map(toFilter) });
    case 'not':
      return new NotFilter({ filter: toFilter(condition.of) });
  }
}
