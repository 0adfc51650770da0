import { describe, expect, it } from 'vitest';
import {
  containsEncodedNul,
  endpointPath,
  EndpointPathError,
  formDecode,
  isBlankName,
  parseEndpointPath,
  parseTopicName,
  topicNameOf,
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

describe('names Pulsar refuses', () => {
  it('blank is Java white space only: not the no-break spaces', () => {
    for (const blank of ['', ' ', '\t\n', '\u001c', '\u3000', '\u2028'])
      expect(isBlankName(blank)).toBe(true);
    for (const name of ['\u00a0', '\u2007', '\u202f', ' x ', '\u0001']) expect(isBlankName(name)).toBe(false);
  });

  it('a blank local name, and a slashed one Pulsar would read as an invalid v1 name', () => {
    const of = (local: string) => () => topicNameOf('persistent', ['public', 'default'], local);
    expect(of(' ')).toThrow(
      'Invalid topic name: persistent://public/default/ . Topic local name must not be blank.',
    );
    expect(of('/x')).toThrow('Invalid namespace format. namespace: public/default/');
    expect(of('a b/c')).toThrow('Invalid named entity: a b');
    expect(of('a/ ')).toThrow('Topic local name must not be blank');
    expect(of('a/b c/d')().fullName).toBe('persistent://public/default/a/b c/d');
    // v1 names keep everything after the namespace as the local name.
    expect(topicNameOf('persistent', ['public', 'c', 'ns'], 'a b/c').localName).toBe('a b/c');
    expect(of('\u0000')).not.toThrow(TopicNameError);
  });

  it('a blank subscription is a 400; an encoded NUL is seen in the raw path only', () => {
    expect(() => parseEndpointPath('/ws/v2/consumer/persistent/public/default/t/%20')).toThrow(
      new EndpointPathError('Invalid query params: subscriptionName cannot be blank', 400),
    );
    expect(containsEncodedNul('/ws/v2/producer/persistent/public/default/a%00b')).toBe(true);
    expect(containsEncodedNul('/ws/v2/producer/persistent/public/default/a%2500b')).toBe(false);
  });
});
