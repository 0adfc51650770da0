import websocket, base64, json

# 如果将 enableTLS 设置为 true，你必须在 conf/websocket.conf 中将 tlsEnabled 设置为 true。
enable_TLS = False
scheme = 'ws'
if enable_TLS:
    scheme = 'wss'

TOPIC = scheme + '://localhost:8080/ws/v2/reader/persistent/public/default/my-topic'
ws = websocket.create_connection(TOPIC)

while True:
    msg = json.loads(ws.recv())
    if not msg: break

    print ( "Received: {} - payload: {}".format(msg, base64.b64decode(msg['payload'])))

    # 确认成功处理
    ws.send(json.dumps({'messageId' : msg['messageId']}))

ws.close()
