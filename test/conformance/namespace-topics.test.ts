/**
 * A namespace's topic listings, which pattern consumers match their pattern against: every topic,
 * with a partitioned topic's partitions (created with it) and not its base name; the partitioned
 * topics by base name; 404 for a namespace that does not exist.
 */
import { describe, expect, it } from 'vitest';
import { publishAll } from '../helpers/publish.js';
import { uniqueTopic, useTarget } from '../helpers/target.js';

const target = useTarget();
const namespaceUrl = (suffix = '') => `${target.adminUrl}/admin/v2/persistent/public/default${suffix}`;

describe('namespace topic listings', () => {
  it('lists partitions (not the base name) among the topics, and partitioned topics by base name', async () => {
    const [partitioned, plain] = [uniqueTopic('list-p'), uniqueTopic('list-t')];
    const created = await fetch(namespaceUrl(`/${partitioned}/partitions`), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '3',
    });
    expect(created.status).toBe(204);
    await publishAll(target, plain, ['x']);
    const topics = (await (await fetch(namespaceUrl())).json()) as string[];
    const full = (name: string) => `persistent://public/default/${name}`;
    expect(topics).toEqual(
      expect.arrayContaining(
        [0, 1, 2].map((index) => full(`${partitioned}-partition-${index}`)).concat(full(plain)),
      ),
    );
    expect(topics).not.toContain(full(partitioned));
    const partitionedTopics = (await (await fetch(namespaceUrl('/partitioned'))).json()) as string[];
    expect(partitionedTopics).toContain(full(partitioned));
    expect(partitionedTopics).not.toContain(full(plain));
  });

  it('a namespace that does not exist is a 404', async () => {
    const url = `${target.adminUrl}/admin/v2/persistent/public/no-such-${uniqueTopic()}`;
    for (const suffix of ['', '/partitioned']) {
      const response = await fetch(`${url}${suffix}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ reason: 'Namespace does not exist' });
    }
  });
});
