package evjson_test

import (
	"fmt"

	"github.com/blueox/ox"
	"github.com/blueox/ox/internal/evjson"
)

func ExampleAppendMsgpack() {
	raw, _ := ox.AppendValue(nil, map[string]any{"type": "request", "ok": true, "bin": []byte{0xff, 0xfe}})
	out, err := evjson.AppendMsgpack(nil, raw, evjson.Options{})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))
	// Output: {"bin":"//4=","ok":true,"type":"request"}
}

func ExampleTranscoder() {
	var tr evjson.Transcoder // reused for every event
	raw, _ := ox.AppendValue(nil, map[string]any{"type": "request", "end": 1.5, "duration": "theirs"})
	if err := tr.Load(raw); err != nil {
		panic(err)
	}
	typ, _ := evjson.Text(tr.Field("type"))
	end, _ := evjson.Number(tr.Field("end"))
	fmt.Println(string(typ), end)
	out := tr.Append(nil, evjson.Options{NonFiniteNull: true}, evjson.Member{Key: "duration", Value: []byte("0.25")})
	fmt.Println(string(out))
	// Output:
	// request 1.5
	// {"duration":0.25,"end":1.5,"type":"request"}
}
