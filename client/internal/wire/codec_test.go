package wire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"authd.dev/authd/client/internal/wire"
	pb "authd.dev/authd/proto/authd/v1"
)

// The converters below map each field by hand. The tests fill every field
// of the generated messages by reflection, so a field added to
// broker.proto and not handled by package wire (and here) fails them.

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func fromStamp(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func getTokenRequestFromPB(m *pb.GetTokenRequest) wire.GetTokenRequest {
	r := wire.GetTokenRequest{
		Profile:      m.GetProfile(),
		Scopes:       m.GetScopes(),
		Audience:     m.GetAudience(),
		Interactive:  m.GetInteractive(),
		ForceRefresh: m.GetForceRefresh(),
		WantIDToken:  m.GetWantIdToken(),
		Rejected:     m.GetRejectedToken(),
	}
	if m.MinValid != nil {
		r.MinValid = m.MinValid.AsDuration()
	}
	return r
}

func tokenToPB(t *wire.Token) *pb.Token {
	return &pb.Token{
		AccessToken: t.AccessToken,
		TokenType:   t.TokenType,
		Expiry:      stamp(t.Expiry),
		Scopes:      t.Scopes,
		IdToken:     t.IDToken,
		Profile:     t.Profile,
	}
}

func loginRequestFromPB(m *pb.LoginRequest) wire.LoginRequest {
	return wire.LoginRequest{Profile: m.GetProfile(), Force: m.GetForce(), Device: m.GetDevice(), NoBrowser: m.GetNoBrowser()}
}

func loginEventToPB(e *wire.LoginEvent) *pb.LoginEvent {
	m := &pb.LoginEvent{}
	switch {
	case e.OpenURL != nil:
		m.Event = &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: e.OpenURL.URL, RedirectUri: e.OpenURL.RedirectURI}}
	case e.DeviceCode != nil:
		d := e.DeviceCode
		m.Event = &pb.LoginEvent_DeviceCode{DeviceCode: &pb.DeviceCode{
			VerificationUri:         d.VerificationURI,
			UserCode:                d.UserCode,
			VerificationUriComplete: d.VerificationURIComplete,
			Expires:                 stamp(d.Expires),
		}}
	case e.Waiting != nil:
		m.Event = &pb.LoginEvent_Waiting{Waiting: &pb.Waiting{StartedBy: e.Waiting.StartedBy}}
	case e.Done != nil:
		m.Event = &pb.LoginEvent_Done{Done: &pb.Done{Expiry: stamp(e.Done.Expiry), Account: e.Done.Account, AlreadyLoggedIn: e.Done.AlreadyLoggedIn}}
	}
	return m
}

func logoutRequestFromPB(m *pb.LogoutRequest) wire.LogoutRequest {
	return wire.LogoutRequest{Profile: m.GetProfile(), All: m.GetAll()}
}

func logoutResponseToPB(r *wire.LogoutResponse) *pb.LogoutResponse {
	return &pb.LogoutResponse{Profiles: r.Profiles}
}

func statusResponseToPB(r *wire.StatusResponse) *pb.StatusResponse {
	m := &pb.StatusResponse{
		Version:        r.Version,
		ConfigPath:     r.ConfigPath,
		KeyringBackend: r.KeyringBackend,
		DefaultProfile: r.DefaultProfile,
		Pid:            r.PID,
		ReloadError:    r.ReloadError,
		Build:          r.Build,
		StartedBy:      r.StartedBy,
		Goroutines:     r.Goroutines,
	}
	for _, p := range r.Profiles {
		m.Profiles = append(m.Profiles, &pb.ProfileStatus{
			Name:            p.Name,
			Issuer:          p.Issuer,
			State:           p.State,
			Account:         p.Account,
			Expiry:          stamp(p.Expiry),
			LastRefresh:     stamp(p.LastRefresh),
			NextRefresh:     stamp(p.NextRefresh),
			LastError:       p.LastError,
			HasRefreshToken: p.HasRefreshToken,
			Flow:            p.Flow,
			Failures:        p.Failures,
			Source:          p.Source,
		})
	}
	return m
}

func setCredentialRequestFromPB(m *pb.SetCredentialRequest) wire.SetCredentialRequest {
	r := wire.SetCredentialRequest{Profile: m.GetProfile()}
	switch c := m.GetCredential().(type) {
	case *pb.SetCredentialRequest_AccessToken:
		r.AccessToken = c.AccessToken
	case *pb.SetCredentialRequest_ClientSecret:
		r.ClientSecret = c.ClientSecret
	}
	return r
}

func setCredentialResponseToPB(r *wire.SetCredentialResponse) *pb.SetCredentialResponse {
	return &pb.SetCredentialResponse{Profile: r.Profile, Expiry: stamp(r.Expiry)}
}

func reloadResponseToPB(r *wire.ReloadResponse) *pb.ReloadResponse {
	return &pb.ReloadResponse{ConfigPath: r.ConfigPath, Added: r.Added, Changed: r.Changed, Removed: r.Removed, KeyringChanged: r.KeyringChanged}
}

// requestCodecs encode a generated request through package wire.
var requestCodecs = map[string]struct {
	msg    func() proto.Message
	encode func(proto.Message) []byte
}{
	"GetTokenRequest": {func() proto.Message { return &pb.GetTokenRequest{} }, func(m proto.Message) []byte {
		r := getTokenRequestFromPB(m.(*pb.GetTokenRequest))
		return r.Marshal()
	}},
	"LoginRequest": {func() proto.Message { return &pb.LoginRequest{} }, func(m proto.Message) []byte {
		r := loginRequestFromPB(m.(*pb.LoginRequest))
		return r.Marshal()
	}},
	"LogoutRequest": {func() proto.Message { return &pb.LogoutRequest{} }, func(m proto.Message) []byte {
		r := logoutRequestFromPB(m.(*pb.LogoutRequest))
		return r.Marshal()
	}},
	"StatusRequest": {func() proto.Message { return &pb.StatusRequest{} }, func(proto.Message) []byte {
		return (&wire.StatusRequest{}).Marshal()
	}},
	"SetCredentialRequest": {func() proto.Message { return &pb.SetCredentialRequest{} }, func(m proto.Message) []byte {
		r := setCredentialRequestFromPB(m.(*pb.SetCredentialRequest))
		return r.Marshal()
	}},
	"ReloadRequest": {func() proto.Message { return &pb.ReloadRequest{} }, func(proto.Message) []byte {
		return (&wire.ReloadRequest{}).Marshal()
	}},
}

// responseCodecs decode bytes through package wire into a generated message.
var responseCodecs = map[string]struct {
	msg    func() proto.Message
	decode func([]byte) (proto.Message, error)
}{
	"Token": {func() proto.Message { return &pb.Token{} }, func(b []byte) (proto.Message, error) {
		var t wire.Token
		err := t.Unmarshal(b)
		return tokenToPB(&t), err
	}},
	"LoginEvent": {func() proto.Message { return &pb.LoginEvent{} }, func(b []byte) (proto.Message, error) {
		var e wire.LoginEvent
		err := e.Unmarshal(b)
		return loginEventToPB(&e), err
	}},
	"LogoutResponse": {func() proto.Message { return &pb.LogoutResponse{} }, func(b []byte) (proto.Message, error) {
		var r wire.LogoutResponse
		err := r.Unmarshal(b)
		return logoutResponseToPB(&r), err
	}},
	"StatusResponse": {func() proto.Message { return &pb.StatusResponse{} }, func(b []byte) (proto.Message, error) {
		var r wire.StatusResponse
		err := r.Unmarshal(b)
		return statusResponseToPB(&r), err
	}},
	"SetCredentialResponse": {func() proto.Message { return &pb.SetCredentialResponse{} }, func(b []byte) (proto.Message, error) {
		var r wire.SetCredentialResponse
		err := r.Unmarshal(b)
		return setCredentialResponseToPB(&r), err
	}},
	"ReloadResponse": {func() proto.Message { return &pb.ReloadResponse{} }, func(b []byte) (proto.Message, error) {
		var r wire.ReloadResponse
		err := r.Unmarshal(b)
		return reloadResponseToPB(&r), err
	}},
}

// TestEveryMessageHasACodec fails when broker.proto gains a message that is
// a request or response of the service and package wire does not cover.
func TestEveryMessageHasACodec(t *testing.T) {
	t.Parallel()
	methods := pb.File_authd_v1_broker_proto.Services().ByName("Broker").Methods()
	for i := 0; i < methods.Len(); i++ {
		m := methods.Get(i)
		if _, ok := requestCodecs[string(m.Input().Name())]; !ok {
			t.Errorf("method %s: no codec for request %s", m.Name(), m.Input().Name())
		}
		if _, ok := responseCodecs[string(m.Output().Name())]; !ok {
			t.Errorf("method %s: no codec for response %s", m.Name(), m.Output().Name())
		}
	}
}

// fill sets every field of m (recursively) to a value derived from variant;
// of each oneof it sets the member variant selects.
func fill(m protoreflect.Message, variant int) {
	switch m.Descriptor().FullName() {
	case "google.protobuf.Timestamp":
		ts := []*timestamppb.Timestamp{
			{Seconds: 1_700_000_000 + int64(variant), Nanos: 123_456_789},
			{Seconds: -86_400*365 - 1, Nanos: 999_999_999}, // before 1970
			{Seconds: 253402300799},                        // 9999-12-31
		}[variant%3]
		proto.Merge(m.Interface(), ts)
		return
	case "google.protobuf.Duration":
		d := []*durationpb.Duration{
			{Seconds: 300},
			{Seconds: -2, Nanos: -500_000_000},
			{Nanos: 1},
		}[variant%3]
		proto.Merge(m.Interface(), d)
		return
	}
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if od.Fields().Get(variant%od.Fields().Len()) != fd {
				continue
			}
		}
		switch {
		case fd.IsList():
			list := m.Mutable(fd).List()
			for j := range 3 {
				if fd.Message() != nil {
					fill(list.AppendMutable().Message(), variant+j)
				} else {
					list.Append(scalar(fd, variant+j))
				}
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			mp.Set(scalar(fd.MapKey(), variant).MapKey(), scalar(fd.MapValue(), variant))
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), variant)
		default:
			m.Set(fd, scalar(fd, variant))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, variant int) protoreflect.Value {
	n := int64(fd.Number()) + int64(variant)*1000
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d-é✓", fd.Name(), variant))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fd.Name()))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if variant%2 == 1 {
			return protoreflect.ValueOfInt32(int32(-n))
		}
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(-n << 33)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n) << 40)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(1)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.25)
	}
	panic("unhandled kind " + fd.Kind().String())
}

// TestRequestsEncodeLikeTheGeneratedCode fills every field of each request
// and checks that package wire writes the bytes proto.Marshal writes.
func TestRequestsEncodeLikeTheGeneratedCode(t *testing.T) {
	t.Parallel()
	for name, codec := range requestCodecs {
		for variant := range 3 {
			t.Run(fmt.Sprintf("%s/%d", name, variant), func(t *testing.T) {
				t.Parallel()
				want := codec.msg()
				fill(want.ProtoReflect(), variant)
				got := codec.encode(want)
				decoded := codec.msg()
				if err := proto.Unmarshal(got, decoded); err != nil {
					t.Fatalf("proto.Unmarshal: %v", err)
				}
				if !proto.Equal(decoded, want) {
					t.Errorf("encoded\n%v\nwant\n%v", prototext.Format(decoded), prototext.Format(want))
				}
				wantBytes, _ := proto.MarshalOptions{Deterministic: true}.Marshal(want)
				if !bytes.Equal(got, wantBytes) {
					t.Errorf("encoded %x\nwant    %x", got, wantBytes)
				}
			})
		}
	}
}

func TestRequestsEncodeEdgeCases(t *testing.T) {
	t.Parallel()
	manyScopes := make([]string, 5000)
	for i := range manyScopes {
		manyScopes[i] = fmt.Sprintf("scope:%d", i)
	}
	tests := []struct {
		name string
		got  []byte
		want proto.Message
	}{
		{"empty GetTokenRequest", (&wire.GetTokenRequest{}).Marshal(), &pb.GetTokenRequest{}},
		{"empty scope kept", (&wire.GetTokenRequest{Scopes: []string{"", "a"}}).Marshal(), &pb.GetTokenRequest{Scopes: []string{"", "a"}}},
		{"many scopes", (&wire.GetTokenRequest{Scopes: manyScopes}).Marshal(), &pb.GetTokenRequest{Scopes: manyScopes}},
		{"negative min_valid", (&wire.GetTokenRequest{MinValid: -1500 * time.Millisecond}).Marshal(), &pb.GetTokenRequest{MinValid: durationpb.New(-1500 * time.Millisecond)}},
		{"sub-second min_valid", (&wire.GetTokenRequest{MinValid: 7}).Marshal(), &pb.GetTokenRequest{MinValid: durationpb.New(7)}},
		{"long profile", (&wire.LoginRequest{Profile: strings.Repeat("p", 70000), NoBrowser: true}).Marshal(), &pb.LoginRequest{Profile: strings.Repeat("p", 70000), NoBrowser: true}},
		{"empty LogoutRequest", (&wire.LogoutRequest{}).Marshal(), &pb.LogoutRequest{}},
		{"client secret", (&wire.SetCredentialRequest{Profile: "ci", ClientSecret: "s3"}).Marshal(),
			&pb.SetCredentialRequest{Profile: "ci", Credential: &pb.SetCredentialRequest_ClientSecret{ClientSecret: "s3"}}},
		{"both credentials: access token wins", (&wire.SetCredentialRequest{AccessToken: "t", ClientSecret: "s"}).Marshal(),
			&pb.SetCredentialRequest{Credential: &pb.SetCredentialRequest_AccessToken{AccessToken: "t"}}},
		{"no credential", (&wire.SetCredentialRequest{Profile: "x"}).Marshal(), &pb.SetCredentialRequest{Profile: "x"}},
	}
	for _, tt := range tests {
		want, _ := proto.MarshalOptions{Deterministic: true}.Marshal(tt.want)
		if !bytes.Equal(tt.got, want) {
			t.Errorf("%s: encoded %.80x\nwant %.80x", tt.name, tt.got, want)
		}
	}
}

// withUnknownFields returns b followed by one unknown field of each wire
// type, and a field number the message uses with a wire type it does not.
func withUnknownFields(b []byte) []byte {
	b = protowire.AppendTag(b, 1000, protowire.VarintType)
	b = protowire.AppendVarint(b, 1<<63)
	b = protowire.AppendTag(b, 1001, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 1002, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	b = protowire.AppendTag(b, 1003, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("unknown"))
	b = protowire.AppendTag(b, 1004, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 5)
	b = protowire.AppendTag(b, 2, protowire.StartGroupType)
	b = protowire.AppendTag(b, 2, protowire.EndGroupType)
	b = protowire.AppendTag(b, 1004, protowire.EndGroupType)
	b = protowire.AppendTag(b, 1, protowire.Fixed32Type) // field 1 with the wrong type
	return protowire.AppendFixed32(b, 9)
}

// addUnknownFields gives m and every message in it unknown fields.
func addUnknownFields(m protoreflect.Message) {
	m.SetUnknown(withUnknownFields(nil))
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				addUnknownFields(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			addUnknownFields(v.Message())
		}
		return true
	})
}

func dropUnknownFields(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				dropUnknownFields(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			dropUnknownFields(v.Message())
		}
		return true
	})
}

// checkDecode decodes b with package wire and with proto.Unmarshal and
// compares the two, unknown fields aside.
func checkDecode(t *testing.T, name string, b []byte) {
	t.Helper()
	codec := responseCodecs[name]
	want := codec.msg()
	if err := proto.Unmarshal(b, want); err != nil {
		t.Fatalf("proto.Unmarshal: %v", err)
	}
	dropUnknownFields(want.ProtoReflect())
	got, err := codec.decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("decoded\n%v\nwant\n%v", prototext.Format(got), prototext.Format(want))
	}
}

// TestResponsesDecodeLikeTheGeneratedCode fills every field of each
// response, with and without unknown fields, and decodes its encoding.
func TestResponsesDecodeLikeTheGeneratedCode(t *testing.T) {
	t.Parallel()
	for name, codec := range responseCodecs {
		for variant := range 6 {
			for _, unknown := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/unknown=%v", name, variant, unknown), func(t *testing.T) {
					t.Parallel()
					m := codec.msg()
					fill(m.ProtoReflect(), variant)
					if unknown {
						addUnknownFields(m.ProtoReflect())
					}
					b, err := proto.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					checkDecode(t, name, b)
				})
			}
		}
	}
}

func TestResponsesDecodeEdgeCases(t *testing.T) {
	t.Parallel()
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	manyProfiles := &pb.StatusResponse{}
	for i := range 2000 {
		manyProfiles.Profiles = append(manyProfiles.Profiles, &pb.ProfileStatus{Name: fmt.Sprint(i), Failures: int32(i), Expiry: timestamppb.New(time.Unix(int64(i), 0))})
	}
	openURL := marshal(&pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: "https://a"}}})
	done := marshal(&pb.LoginEvent{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "me"}}})
	redirect := marshal(&pb.LoginEvent{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{RedirectUri: "http://127.0.0.1/cb"}}})
	expiry1 := marshal(&pb.Token{Expiry: &timestamppb.Timestamp{Seconds: 10}})
	expiry2 := marshal(&pb.Token{Expiry: &timestamppb.Timestamp{Nanos: 5}})
	tests := []struct {
		name, message string
		b             []byte
	}{
		{"empty Token", "Token", nil},
		{"empty LoginEvent", "LoginEvent", nil},
		{"empty StatusResponse", "StatusResponse", nil},
		{"empty nested messages", "StatusResponse", marshal(&pb.StatusResponse{Profiles: []*pb.ProfileStatus{{}, {}}})},
		{"zero timestamp present", "Token", marshal(&pb.Token{Expiry: &timestamppb.Timestamp{}})},
		{"many profiles", "StatusResponse", marshal(manyProfiles)},
		{"large token", "Token", marshal(&pb.Token{AccessToken: strings.Repeat("t", 1<<20), Scopes: make([]string, 1000)})},
		{"negative pid", "StatusResponse", marshal(&pb.StatusResponse{Pid: -1})},
		{"unknown fields only", "Token", withUnknownFields(nil)},
		{"unknown oneof member", "LoginEvent", protowire.AppendBytes(protowire.AppendTag(nil, 99, protowire.BytesType), []byte{0x08, 0x01})},
		{"oneof: last member wins", "LoginEvent", append(append([]byte{}, openURL...), done...)},
		{"oneof: same member merges", "LoginEvent", append(append([]byte{}, openURL...), redirect...)},
		{"timestamp merges", "Token", append(append([]byte{}, expiry1...), expiry2...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkDecode(t, tt.message, tt.b)
		})
	}
}

func TestNestedUnknownGroups(t *testing.T) {
	t.Parallel()
	nested := func(depth int) []byte {
		var b []byte
		for range depth {
			b = protowire.AppendTag(b, 9, protowire.StartGroupType)
		}
		for range depth {
			b = protowire.AppendTag(b, 9, protowire.EndGroupType)
		}
		return b
	}
	for _, depth := range []int{1, 100, 5000, 20000} {
		var tok wire.Token
		err := tok.Unmarshal(nested(depth))
		pbErr := proto.Unmarshal(nested(depth), &pb.Token{})
		if (err == nil) != (pbErr == nil) {
			t.Errorf("%d nested groups: Unmarshal = %v, proto.Unmarshal = %v", depth, err, pbErr)
		}
	}
}

func TestResponsesRejectMalformedInput(t *testing.T) {
	t.Parallel()
	full := &pb.StatusResponse{}
	fill(full.ProtoReflect(), 0)
	b, err := proto.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	// Every strict prefix that cuts a field short must fail, never panic.
	for n := range len(b) {
		var r wire.StatusResponse
		err := r.Unmarshal(b[:n])
		if proto.Unmarshal(b[:n], &pb.StatusResponse{}) != nil && err == nil {
			t.Errorf("Unmarshal of %d of %d bytes succeeded, proto.Unmarshal fails", n, len(b))
		}
	}
	tests := []struct {
		name string
		b    []byte
	}{
		{"field number 0", []byte{0x02, 0x00}},
		{"wire type 6", []byte{0x0e}},
		{"wire type 7", []byte{0x0f}},
		{"end group without start", []byte{0x0c}},
		{"group left open", []byte{0x0b, 0x08, 0x01}},
		{"group closed by another number", []byte{0x0b, 0x14}},
		{"length past the end", []byte{0x0a, 0x05, 'a'}},
		{"varint too long", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"malformed nested message", []byte{0x2a, 0x02, 0x0a, 0x05}},
	}
	for _, tt := range tests {
		var r wire.StatusResponse
		if err := r.Unmarshal(tt.b); err == nil {
			t.Errorf("%s: Unmarshal(%x) succeeded", tt.name, tt.b)
		}
		if err := proto.Unmarshal(tt.b, &pb.StatusResponse{}); err == nil {
			t.Errorf("%s: proto.Unmarshal(%x) succeeded: the case is not malformed", tt.name, tt.b)
		}
	}
}
