import { describe, expect, it } from 'vitest';
import {
  endpointPath,
  EndpointPathError,
  formDecode,
  parseEndpointPath,
  parseTopicName,
  TopicNameError,
} from '../../src/protocol/index.js';

describe('topic names', () => {
  it('expands short names to public/default', () => {
    expect(parseTopicName('my-topic').fullName).toBe('persistent://public/default/my-topic');
    expect(parseTopicName('t/ns/x').fullName).toBe('persistent://t/ns/x');
  });

  it('parses full v2 and v1 names and partitions', () => {
    expect(parseTopicName('non-persistent://t/ns/x-partition-3')).toMatchObject({
      domain: 'non-persistent',
      tenant: 't',
      namespace: 'ns',
      localName: 'x-partition-3',
      partitionIndex: 3,
    });
    expect(parseTopicName('persistent://t/c/ns/x')).toMatchObject({
      cluster: 'c',
      namespace: 'ns',
      localName: 'x',
    });
  });

  it('reads a 4-part full name as v1 (tenant/cluster/namespace/local), as Pulsar does', () => {
    expect(parseTopicName('persistent://t/c/ns/a/b')).toMatchObject({
      cluster: 'c',
      namespace: 'ns',
      localName: 'a/b',
    });
  });

  it.each(['a/b', 'a/b/c/d', 'http://t/ns/x', 'persistent://t/x', 'persistent://t/n$s/x', ''])(
    'rejects %j',
    (name) => {
      expect(() => parseTopicName(name)).toThrow(TopicNameError);
    },
  );
});

describe('endpoint paths', () => {
  it('parses v2 producer, consumer and reader paths', () => {
    expect(parseEndpointPath('/ws/v2/producer/persistent/public/default/t1')).toMatchObject({
      kind: 'producer',
      version: 'v2',
      topic: { fullName: 'persistent://public/default/t1' },
    });
    expect(parseEndpointPath('/ws/v2/consumer/persistent/public/default/t1/sub%201')).toMatchObject({
      kind: 'consumer',
      subscription: 'sub 1',
    });
    expect(parseEndpointPath('/ws/v2/reader/non-persistent/public/default/t1').topic.domain).toBe(
      'non-persistent',
    );
  });

  it('parses v1 paths with a cluster', () => {
    expect(parseEndpointPath('/ws/consumer/persistent/t/c/ns/x/s')).toMatchObject({
      version: 'v1',
      topic: { fullName: 'persistent://t/c/ns/x' },
      subscription: 's',
    });
  });

  it('joins extra producer segments with / and tolerates a trailing slash', () => {
    expect(parseEndpointPath('/ws/v2/producer/persistent/p/ns/a/b//c/').topic.localName).toBe('a/b/c');
  });

  it('fails like Pulsar: 500 for the topic, 400 for the subscription, 404 for no endpoint', () => {
    const status = (path: string): number => {
      try {
        parseEndpointPath(path);
        return 101;
      } catch (error) {
        return (error as EndpointPathError).status;
      }
    };
    expect(status('/ws/v2/producer/persistent/p/ns')).toBe(500);
    expect(status('/ws/v2/producer/queue/p/ns/t')).toBe(500);
    expect(status('/ws/v2/producer/persistent/p/ns/bad%zz')).toBe(500);
    expect(status('/ws/v2/consumer/persistent/p/ns/t/')).toBe(400);
    expect(status('/ws/v2/consumer/persistent/p/ns/t/a/sub')).toBe(400);
    expect(status('/ws/v2/publisher/persistent/p/ns/t')).toBe(404);
    expect(status('/admin/v2/x')).toBe(404);
  });

  it('decodes + as space and %XX as UTF-8', () => {
    expect(formDecode('a+b%2Bc%C3%A9')).toBe('a b+cé');
  });

  it('builds paths that parse back to the same names', () => {
    const topic = parseTopicName('persistent://public/default/odd name+[]é');
    const path = endpointPath('consumer', topic, 'my sub+');
    expect(parseEndpointPath(path)).toMatchObject({
      topic: { fullName: 'persistent://public/default/odd name+[]é' },
      subscription: 'my sub+',
    });
  });
});
